"""The S3 path against an S3-compatible server on loopback (moto's server mode, in memory)."""

import socket

import boto3
import httpx
import pytest

from accounts.tests.factories import UserFactory
from media import selectors, services
from media.models import MediaAsset, Upload
from media.tests.conftest import png_bytes, upload_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

BUCKET = "daira-test"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint):
    """Point the default storage at a fresh bucket on the loopback server; yields a boto3 client."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    settings.S3_BUCKET = BUCKET
    settings.STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "querystring_expire": 600,
                "file_overwrite": False,
                "default_acl": None,
                "signature_version": "s3v4",
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    yield client
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    if objects:
        client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": o["Key"]} for o in objects]})
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_presigned_put_then_complete_then_transcode_into_the_bucket(
    s3, auth_client, clips, django_capture_on_commit_callbacks, client
):
    django_client = client
    # given
    owner = UserFactory()
    client = auth_client(owner)
    data = clips["portrait.mp4"].read_bytes()

    # when: presign, PUT straight to the bucket, complete, process
    presigned = client.post(
        "/api/v1/uploads/presign", {"filename": "clip.mp4", "filetype": "video/mp4", "size": len(data)}, format="json"
    )
    body = presigned.json()
    put = httpx.put(body["url"], content=data, headers=body["headers"])
    completed = client.post(f"/api/v1/uploads/{body['upload_id']}/complete")
    asset_id = int(completed.json()["id"])
    with django_capture_on_commit_callbacks(execute=True):
        services.asset_process(asset_id=asset_id)

    # then
    assert presigned.status_code == 201
    assert (body["method"], body["headers"]) == ("PUT", {"Content-Type": "video/mp4", "Content-Length": str(len(data))})
    assert "X-Amz-Expires=600" in body["url"]
    assert put.status_code == 200
    assert (completed.status_code, completed.json()["status"]) == (201, "uploaded")
    asset = MediaAsset.objects.get(pk=asset_id)
    assert asset.status == "ready"
    keys = _keys(s3)
    assert f"media/{asset_id}/hls/master.m3u8" in keys
    assert f"media/{asset_id}/hls/480p/seg_00000.ts" in keys
    assert not any(k.startswith("uploads/") for k in keys)  # the direct upload was consumed
    assert f"media/{asset_id}/source.mp4" not in keys
    # public playlists go through the signed view too: a presigned playlist alone would
    # leave its relative segment URIs unsigned
    playlist_url = selectors.playback_for(viewer=owner, asset=asset, data_saver=True)["url"]
    variant = django_client.get(playlist_url.removeprefix("http://127.0.0.1:8000"))
    segment_url = next(line for line in variant.content.decode().splitlines() if line and not line.startswith("#"))
    assert variant.status_code == 200
    assert "X-Amz-Signature=" in segment_url
    assert httpx.get(segment_url).status_code == 200


def test_complete_refuses_an_object_whose_size_differs_and_deletes_it(s3, auth_client):
    client = auth_client(UserFactory())
    body = client.post("/api/v1/uploads/presign", {"filetype": "image/png", "size": 5000}, format="json").json()
    s3.put_object(Bucket=BUCKET, Key=f"uploads/{body['upload_id']}/direct", Body=png_bytes(10, 10))

    response = client.post(f"/api/v1/uploads/{body['upload_id']}/complete")

    assert (response.status_code, response.json()["error"]["code"]) == (422, "size_mismatch")
    assert _keys(s3) == []
    assert Upload.objects.exists() is False


def test_complete_before_the_put_is_a_409(s3, auth_client):
    client = auth_client(UserFactory())
    body = client.post("/api/v1/uploads/presign", {"filetype": "image/png", "size": 5000}, format="json").json()

    response = client.post(f"/api/v1/uploads/{body['upload_id']}/complete")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "upload_incomplete")


def test_tus_parts_on_s3_and_private_playlists_served_with_presigned_segments(s3, client, clips):
    # given: a DM video uploaded through the tus services (parts stored in the bucket), processed
    asset = upload_bytes(UserFactory(), clips["silent.mp4"].read_bytes(), purpose="message")
    services.asset_process(asset_id=asset.pk)
    asset.refresh_from_db()

    # when: the private master and variant playlists are fetched through their signed paths
    master_url = selectors.asset_urls(asset)["hls"]
    master = client.get(master_url.removeprefix("http://127.0.0.1:8000"))
    variant_path = master_url.removeprefix("http://127.0.0.1:8000").replace("master.m3u8", "320p/index.m3u8")
    variant = client.get(variant_path)
    segment_url = next(line for line in variant.content.decode().splitlines() if line and not line.startswith("#"))

    # then: playlists come from our view; segments are presigned GETs that the bucket honours
    assert (asset.status, asset.private) == ("ready", True)
    assert master.status_code == 200
    assert "320p/index.m3u8" in master.content.decode()
    assert variant.status_code == 200
    assert "X-Amz-Signature=" in segment_url
    assert httpx.get(segment_url).status_code == 200
    assert not any(k.startswith("uploads/") for k in _keys(s3))
