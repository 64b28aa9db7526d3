import base64
import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from media import services
from media.models import MediaAsset, Upload
from media.tests.conftest import jpeg_with_exif, stored_files

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _create(client, length: int, **meta: str):
    return client.post(
        "/api/v1/uploads/",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=_meta(**(meta or {"filename": "a.jpg", "filetype": "image/jpeg"})),
        **TUS,
    )


def _patch(client, location: str, offset: int, body: bytes, **headers):
    return client.generic(
        "PATCH", location, data=body, content_type=OCTETS, HTTP_UPLOAD_OFFSET=str(offset), **TUS, **headers
    )


def test_options_advertises_version_extensions_and_max_size(api_client, settings):
    response = api_client.options("/api/v1/uploads/")

    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Extension"] == "creation,creation-with-upload,termination,expiration,checksum"
    assert response["Tus-Max-Size"] == str(settings.MEDIA_VIDEO_MAX_BYTES)


def test_create_patch_in_two_chunks_completes_into_an_uploaded_asset(auth_client, media_root):
    # given
    user = UserFactory()
    client = auth_client(user)
    data = jpeg_with_exif(64, 48)

    # when
    created = _create(client, len(data), filename="me.jpg", filetype="image/jpeg", purpose="post")
    location = created["Location"]
    first = _patch(client, location, 0, data[:100])
    head = client.head(location, **TUS)
    second = _patch(client, location, 100, data[100:])

    # then
    assert created.status_code == 201
    assert location.startswith("http://testserver/api/v1/uploads/")
    assert created["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in created
    assert (first.status_code, first["Upload-Offset"]) == (204, "100")
    assert (head.status_code, head["Upload-Offset"], head["Upload-Length"]) == (200, "100", str(len(data)))
    assert head["Cache-Control"] == "no-store"
    assert (second.status_code, second["Upload-Offset"]) == (204, str(len(data)))
    asset = MediaAsset.objects.get(pk=int(second["X-Media-Asset-Id"]))
    assert (asset.owner_id, asset.kind, asset.status, asset.mime_type, asset.size) == (
        user.pk,
        "image",
        "uploaded",
        "image/jpeg",
        len(data),
    )
    upload_id = location.rsplit("/", 1)[1]
    assert stored_files(media_root) == [
        f"uploads/{upload_id}/00000000000000.part",
        f"uploads/{upload_id}/00000000000100.part",
    ]


def test_creation_with_upload_stores_the_body_of_the_post(auth_client):
    client = auth_client(UserFactory())
    data = jpeg_with_exif(64, 48)

    response = client.generic(
        "POST",
        "/api/v1/uploads/",
        data=data,
        content_type=OCTETS,
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=_meta(filetype="image/jpeg"),
        **TUS,
    )

    assert (response.status_code, response["Upload-Offset"]) == (201, str(len(data)))
    assert MediaAsset.objects.filter(pk=int(response["X-Media-Asset-Id"]), status="uploaded").exists()


def test_patch_at_the_wrong_offset_is_a_409_and_stores_nothing(auth_client, media_root):
    client = auth_client(UserFactory())
    location = _create(client, 1000)["Location"]
    _patch(client, location, 0, jpeg_with_exif(64, 48)[:200])

    response = _patch(client, location, 150, b"x" * 50)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "offset_mismatch"
    assert Upload.objects.get().offset == 200
    assert len(stored_files(media_root)) == 1


def test_another_user_gets_404_for_head_patch_and_delete(auth_client):
    location = _create(auth_client(UserFactory()), 1000)["Location"]
    stranger = auth_client(UserFactory())

    responses = [
        stranger.head(location, **TUS),
        _patch(stranger, location, 0, b"\xff\xd8\xff" + b"\0" * 100),
        stranger.delete(location, **TUS),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert Upload.objects.get().offset == 0


def test_expired_upload_is_gone_and_the_beat_task_deletes_it_with_its_parts(auth_client, media_root):
    # given: an upload with one part, past its expiry
    client = auth_client(UserFactory())
    location = _create(client, 1000)["Location"]
    _patch(client, location, 0, jpeg_with_exif(64, 48)[:200])
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    # when
    head = client.head(location, **TUS)
    patch = _patch(client, location, 200, b"x" * 10)
    deleted = services.uploads_expired_delete()

    # then
    assert head.status_code == 410
    assert (patch.status_code, patch.json()["error"]["code"]) == (410, "upload_expired")
    assert deleted == 1
    assert Upload.objects.exists() is False
    assert stored_files(media_root) == []


def test_delete_terminates_the_upload_and_its_parts(auth_client, media_root):
    client = auth_client(UserFactory())
    location = _create(client, 1000)["Location"]
    _patch(client, location, 0, jpeg_with_exif(64, 48)[:200])

    response = client.delete(location, **TUS)

    assert response.status_code == 204
    assert Upload.objects.exists() is False
    assert stored_files(media_root) == []
    assert client.head(location, **TUS).status_code == 404


def test_upload_length_over_the_limit_is_413_before_any_byte(auth_client, settings):
    client = auth_client(UserFactory())

    too_big = _create(client, settings.MEDIA_VIDEO_MAX_BYTES + 1, filetype="video/mp4")
    big_image = _create(client, settings.MEDIA_IMAGE_MAX_BYTES + 1, filetype="image/jpeg")

    assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "upload_too_large")
    assert (big_image.status_code, big_image.json()["error"]["code"]) == (413, "image_too_large")
    assert Upload.objects.exists() is False


def test_an_image_declared_as_video_is_caught_by_its_bytes_when_over_the_image_limit(auth_client, settings, media_root):
    # given: the client claims a video, so creation accepts a length above the image limit
    settings.MEDIA_IMAGE_MAX_BYTES = 1000
    client = auth_client(UserFactory())
    location = _create(client, 5000, filetype="video/mp4")["Location"]

    # when: the first bytes are a JPEG
    response = _patch(client, location, 0, jpeg_with_exif(64, 48)[:500])

    # then
    assert (response.status_code, response.json()["error"]["code"]) == (413, "image_too_large")
    assert Upload.objects.exists() is False
    assert stored_files(media_root) == []


def test_unsupported_bytes_are_415_and_leave_nothing(auth_client, media_root):
    client = auth_client(UserFactory())
    location = _create(client, 500, filename="cat.jpg", filetype="image/jpeg")["Location"]

    response = _patch(client, location, 0, b"%PDF-1.7\n" + b"\0" * 491)

    assert (response.status_code, response.json()["error"]["code"]) == (415, "unsupported_type")
    assert Upload.objects.exists() is False
    assert stored_files(media_root) == []


def test_a_fourth_concurrent_upload_is_refused(auth_client, settings):
    client = auth_client(UserFactory())
    for _ in range(settings.MEDIA_MAX_CONCURRENT_UPLOADS):
        assert _create(client, 1000).status_code == 201

    response = _create(client, 1000)

    assert (response.status_code, response.json()["error"]["code"]) == (429, "too_many_uploads")
    assert Upload.objects.count() == settings.MEDIA_MAX_CONCURRENT_UPLOADS


def test_checksum_mismatch_is_460_and_a_matching_checksum_is_accepted(auth_client):
    client = auth_client(UserFactory())
    data = jpeg_with_exif(64, 48)
    location = _create(client, len(data))["Location"]
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    right = base64.b64encode(hashlib.sha1(data[:300]).digest()).decode()

    rejected = _patch(client, location, 0, data[:300], HTTP_UPLOAD_CHECKSUM=f"sha1 {wrong}")
    accepted = _patch(client, location, 0, data[:300], HTTP_UPLOAD_CHECKSUM=f"sha1 {right}")

    assert (rejected.status_code, rejected.json()["error"]["code"]) == (460, "checksum_mismatch")
    assert (accepted.status_code, accepted["Upload-Offset"]) == (204, "300")


def test_requests_without_tus_resumable_get_412(auth_client):
    client = auth_client(UserFactory())

    response = client.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH="10")

    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"
    assert Upload.objects.exists() is False


def test_patch_needs_the_offset_content_type_and_anonymous_callers_are_refused(auth_client, api_client):
    client = auth_client(UserFactory())
    location = _create(client, 1000)["Location"]

    wrong_type = client.generic(
        "PATCH", location, data=b"abc", content_type="text/plain", HTTP_UPLOAD_OFFSET="0", **TUS
    )
    anonymous = api_client.post("/api/v1/uploads/", HTTP_UPLOAD_LENGTH="10", **TUS)

    assert wrong_type.status_code == 415
    assert anonymous.status_code == 401


def test_presign_without_s3_is_a_clear_404(auth_client):
    client = auth_client(UserFactory())

    response = client.post("/api/v1/uploads/presign", {"filetype": "video/mp4", "size": 1000}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "s3_not_configured")


def test_presign_applies_the_json_body_limit_itself(auth_client, settings):
    settings.DAIRA_MAX_BODY_BYTES = 100
    client = auth_client(UserFactory())

    response = client.post(
        "/api/v1/uploads/presign", {"filename": "x" * 200, "filetype": "video/mp4", "size": 1}, format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
