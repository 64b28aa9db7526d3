import json
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from accounts.models import UserSettings
from accounts.tests.factories import UserFactory
from media import ffmpeg, selectors, services
from media.models import MediaAsset
from media.tests.conftest import jpeg_with_exif, png_bytes, stored_files, upload_bytes

pytestmark = pytest.mark.django_db


def test_image_becomes_webp_renditions_and_a_jpeg_without_exif(
    media_root, emitted_events, django_capture_on_commit_callbacks
):
    # given: a 1600x900 JPEG whose EXIF says "rotate 90°" and carries GPS
    owner = UserFactory()
    asset = upload_bytes(owner, jpeg_with_exif(1600, 900, orientation=6), filetype="image/jpeg")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.asset_process(asset_id=asset.pk)

    # then: rotated to 900x1600, three WebP widths (never upscaled) and a JPEG, no metadata
    asset.refresh_from_db()
    assert (asset.status, asset.progress, asset.width, asset.height) == ("ready", 100, 900, 1600)
    assert [(r["width"], r["height"]) for r in asset.renditions["webp"]] == [(320, 569), (640, 1138), (900, 1600)]
    assert asset.renditions["jpeg"] == {"name": "w900.jpg", "width": 900, "height": 1600}
    assert len(asset.blurhash) == 28
    for name in ["w320.webp", "w640.webp", "w900.webp", "w900.jpg"]:
        with Image.open(media_root / asset.storage_name(name)) as image:
            assert image.getexif() == {}
            assert "exif" not in image.info
    assert stored_files(media_root) == sorted(
        f"{asset.storage_prefix}/{n}" for n in ["w320.webp", "w640.webp", "w900.webp", "w900.jpg"]
    )
    assert ("media.ready", {"asset_id": asset.pk, "owner_id": owner.pk, "kind": "image"}) in emitted_events


def test_small_image_is_never_upscaled(media_root):
    asset = upload_bytes(UserFactory(), png_bytes(200, 100), filetype="image/png")

    services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    assert [r["width"] for r in asset.renditions["webp"]] == [200]
    assert asset.renditions["jpeg"]["width"] == 200


@pytest.mark.parametrize(
    ("clip", "code"),
    [
        ("audio_only.mp4", "audio_only"),
        ("truncated.mp4", "truncated_file"),
        ("corrupt.mp4", "corrupt_file"),
        ("uhd.mp4", "video_resolution_too_high"),
        ("empty.mp4", "zero_duration"),
    ],
)
def test_each_rejected_video_fails_with_its_code_and_leaves_no_file(
    clip, code, clips, media_root, emitted_events, django_capture_on_commit_callbacks
):
    owner = UserFactory()
    asset = upload_bytes(owner, clips[clip].read_bytes(), filetype="video/mp4")

    with django_capture_on_commit_callbacks(execute=True):
        services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    assert (asset.status, asset.failure_code) == ("failed", code)
    assert stored_files(media_root) == []
    assert ("media.failed", {"asset_id": asset.pk, "owner_id": owner.pk, "kind": "video"}) in emitted_events


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (lambda: png_bytes(8000, 7000, mode="1"), "pixel_flood"),
        (lambda: png_bytes(6000, 6000, mode="1"), "decompression_bomb"),
        (lambda: jpeg_with_exif(400, 300)[:1500], "truncated_file"),
    ],
)
def test_each_rejected_image_fails_with_its_code_and_leaves_no_file(data, code, media_root):
    asset = upload_bytes(UserFactory(), data())

    services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    assert (asset.status, asset.failure_code) == ("failed", code)
    assert stored_files(media_root) == []


def test_processing_twice_is_a_no_op(media_root):
    asset = upload_bytes(UserFactory(), png_bytes(50, 50))
    services.asset_process(asset_id=asset.pk)

    second = services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    assert second is None
    assert (asset.status, asset.attempts) == ("ready", 1)


def test_stale_processing_asset_is_requeued_and_then_failed_after_max_attempts(settings):
    # given: a worker claimed the asset and died (its lease lapsed)
    settings.MEDIA_PROCESSING_MAX_ATTEMPTS = 2
    asset = upload_bytes(UserFactory(), png_bytes(50, 50))
    services.asset_processing_start(asset_id=asset.pk)
    MediaAsset.objects.filter(pk=asset.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    # when / then: requeued to uploaded, attempt kept
    assert services.assets_requeue_stale() == [asset.pk]
    asset.refresh_from_db()
    assert (asset.status, asset.attempts, asset.lease_expires_at) == ("uploaded", 1, None)

    # a live lease is left alone
    services.asset_processing_start(asset_id=asset.pk)
    assert services.assets_requeue_stale() == []

    # and past the last attempt, the next claim fails it instead of looping
    MediaAsset.objects.filter(pk=asset.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    services.assets_requeue_stale()
    assert services.asset_processing_start(asset_id=asset.pk) is None
    asset.refresh_from_db()
    assert (asset.status, asset.failure_code) == ("failed", "processing_failed")


def _ready_video(owner, **extra) -> MediaAsset:
    return MediaAsset.objects.create(
        owner=owner,
        kind="video",
        status="ready",
        mime_type="video/mp4",
        storage_prefix="media/1",
        width=720,
        height=1280,
        duration_ms=2000,
        renditions={
            "master": "hls/master.m3u8",
            "variants": [
                {"name": "360p", "width": 360, "height": 640, "bandwidth": 896000, "playlist": "hls/360p/index.m3u8"},
                {"name": "720p", "width": 720, "height": 1280, "bandwidth": 2628000, "playlist": "hls/720p/index.m3u8"},
            ],
            "poster": "poster.jpg",
            "sprite": {"image": "sprite.jpg", "index": "sprite.json"},
            "offline": "offline.mp4",
            "audio": None,
        },
        **extra,
    )


def test_playback_for_data_saver_gives_the_360p_playlist_without_autoplay():
    viewer = UserFactory()
    UserSettings.objects.update_or_create(user=viewer, defaults={"data_saver": True})
    asset = _ready_video(UserFactory())

    playback = selectors.playback_for(viewer=viewer, asset=asset)

    assert playback["url"] == "http://127.0.0.1:8000/media/media/1/hls/360p/index.m3u8"
    assert (playback["autoplay"], playback["preload"], playback["variant"]) == (False, 1, "360p")


def test_playback_for_others_gives_the_master_playlist_with_preload_3():
    viewer = UserFactory()
    UserSettings.objects.update_or_create(user=viewer, defaults={"data_saver": False})
    asset = _ready_video(UserFactory())

    playback = selectors.playback_for(viewer=viewer, asset=asset)

    assert playback["url"] == "http://127.0.0.1:8000/media/media/1/hls/master.m3u8"
    assert (playback["autoplay"], playback["preload"], playback["variant"]) == (True, 3, "auto")


def test_asset_api_shows_progress_to_the_owner_and_hides_unfinished_assets_from_others(auth_client):
    owner, stranger = UserFactory(), UserFactory()
    asset = upload_bytes(owner, png_bytes(50, 50))

    mine = auth_client(owner).get(f"/api/v1/media/{asset.pk}")
    theirs = auth_client(stranger).get(f"/api/v1/media/{asset.pk}")

    assert mine.status_code == 200
    assert (mine.json()["status"], mine.json()["progress"], mine.json()["playback"]) == ("uploaded", 0, None)
    assert theirs.status_code == 404


def test_ready_asset_api_gives_urls_and_playback_to_others(auth_client):
    viewer = UserFactory()
    asset = _ready_video(UserFactory())

    body = auth_client(viewer).get(f"/api/v1/media/{asset.pk}").json()

    assert body["progress"] is None
    assert body["urls"]["hls"] == "http://127.0.0.1:8000/media/media/1/hls/master.m3u8"
    assert body["playback"]["preload"] == 1  # new accounts start with data saver on


def test_media_list_owned_by_keeps_order_and_drops_others_and_failed():
    owner = UserFactory()
    first, second = upload_bytes(owner, png_bytes(10, 10)), upload_bytes(owner, png_bytes(10, 10))
    failed = upload_bytes(owner, png_bytes(10, 10))
    MediaAsset.objects.filter(pk=failed.pk).update(status="failed")
    foreign = upload_bytes(UserFactory(), png_bytes(10, 10))

    found = selectors.media_list_owned_by(
        owner=owner, media_ids=[second.pk, first.pk, foreign.pk, failed.pk, second.pk]
    )

    assert [a.pk for a in found] == [second.pk, first.pk]


def test_private_media_is_served_only_under_a_live_signed_path(client, media_root, settings):
    # given: a DM image, processed
    asset = upload_bytes(UserFactory(), png_bytes(64, 64), purpose="message")
    services.asset_process(asset_id=asset.pk)
    asset.refresh_from_db()
    url = selectors.asset_urls(asset)["jpeg"]["url"]
    path = url.removeprefix("http://127.0.0.1:8000")

    # when
    ok = client.get(path)
    forged = client.get(path.replace("/signed/", "/signed/x"))
    settings.MEDIA_SIGNED_URL_SECONDS = -1
    fresh_but_expired = selectors.asset_urls(asset)["jpeg"]["url"].removeprefix("http://127.0.0.1:8000")
    expired = client.get(fresh_but_expired)

    # then
    assert asset.private is True
    assert asset.storage_prefix.startswith(f"private/{asset.pk}/")
    assert (ok.status_code, ok["Content-Type"]) == (200, "image/jpeg")
    assert forged.status_code == 404
    assert expired.status_code == 404


@pytest.mark.slow
def test_video_is_transcoded_to_an_hls_ladder_that_ffprobe_opens(
    clips, media_root, emitted_events, django_capture_on_commit_callbacks
):
    # given: a 9:16 480x854 clip with sound
    owner = UserFactory()
    asset = upload_bytes(owner, clips["portrait.mp4"].read_bytes(), filetype="video/mp4")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.asset_process(asset_id=asset.pk)

    # then: 360p (360x640) and 480p (480x854), vertical kept, nothing above the source
    asset.refresh_from_db()
    assert (asset.status, asset.width, asset.height, asset.has_audio) == ("ready", 480, 854, True)
    variants = asset.renditions["variants"]
    assert [(v["name"], v["width"], v["height"]) for v in variants] == [("360p", 360, 640), ("480p", 480, 854)]
    prefix = media_root / asset.storage_prefix
    master = (prefix / "hls/master.m3u8").read_text()
    assert 'BANDWIDTH=896000,AVERAGE-BANDWIDTH=896000,RESOLUTION=360x640,CODECS="avc1.4d401e,mp4a.40.2"' in master
    assert "RESOLUTION=480x854" in master
    probed = ffmpeg.probe(str(prefix / "hls/master.m3u8"))
    heights = sorted(s["height"] for s in probed["streams"] if s["codec_type"] == "video")
    assert heights == [640, 854]
    for variant in variants:
        streams = ffmpeg.probe(str(prefix / variant["playlist"]))["streams"]
        video = next(s for s in streams if s["codec_type"] == "video")
        assert (video["codec_name"], video["width"], video["height"]) == ("h264", variant["width"], variant["height"])
        assert [s["codec_name"] for s in streams if s["codec_type"] == "audio"] == ["aac"]
    offline = ffmpeg.probe(str(prefix / "offline.mp4"))["streams"]
    assert [(s["codec_name"], s.get("height")) for s in offline] == [("h264", 640), ("aac", None)]
    with Image.open(prefix / "poster.jpg") as poster:
        assert poster.size == (480, 854)
    index = json.loads((prefix / "sprite.json").read_text())
    assert (index["columns"], index["rows"], index["tile_width"]) == (2, 1, 160)
    with Image.open(prefix / "sprite.jpg") as sprite:
        assert sprite.size == (320, index["tile_height"])
    assert not (prefix / "source.mp4").exists()
    assert ("media.audio_extracted", {"asset_id": asset.pk, "owner_id": owner.pk}) in emitted_events
    assert ("media.ready", {"asset_id": asset.pk, "owner_id": owner.pk, "kind": "video"}) in emitted_events


@pytest.mark.slow
def test_silent_video_gets_a_silent_aac_track_and_one_rung_at_its_own_size(clips, media_root):
    asset = upload_bytes(UserFactory(), clips["silent.mp4"].read_bytes())

    services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    assert (asset.status, asset.has_audio, asset.renditions["audio"]) == ("ready", False, None)
    assert [(v["name"], v["width"], v["height"]) for v in asset.renditions["variants"]] == [("320p", 320, 568)]
    streams = ffmpeg.probe(str(media_root / asset.storage_prefix / "hls/320p/index.m3u8"))["streams"]
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]


def test_graphql_media_asset_gives_the_owner_status_and_progress(graphql):
    owner = UserFactory()
    asset = upload_bytes(owner, png_bytes(50, 50))
    query = "query($id: ID!) { mediaAsset(id: $id) { id status progress playback } }"

    mine = graphql(query, {"id": str(asset.pk)}, user=owner)
    theirs = graphql(query, {"id": str(asset.pk)}, user=UserFactory())

    assert mine["data"]["mediaAsset"] == {"id": str(asset.pk), "status": "uploaded", "progress": 0, "playback": None}
    assert theirs["data"]["mediaAsset"] is None


def test_progress_is_pushed_live_to_the_owner_group(settings):
    # given: a socket's channel in the owner's group, on the real Redis channel layer
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    from daira.lib import realtime

    owner = UserFactory()
    asset = upload_bytes(owner, png_bytes(50, 50))
    services.asset_processing_start(asset_id=asset.pk)
    asset.refresh_from_db()
    layer = get_channel_layer()

    async def scenario():
        # One event loop for the whole exchange: the pub/sub layer's channels live in the
        # loop that made them. The service runs back on this test's thread (its DB
        # connection holds the test transaction).
        channel = await layer.new_channel()
        await layer.group_add(realtime.user_group(owner.pk), channel)
        # when
        await sync_to_async(services.asset_progress_update, thread_sensitive=True)(asset=asset, percent=42)
        return await asyncio.wait_for(layer.receive(channel), 10)

    # then
    message = async_to_sync(scenario)()
    assert message == {
        "type": "relay",
        "event": "media.progress",
        "payload": {"asset_id": asset.pk, "status": "processing", "progress": 42, "failure_code": None},
    }


def test_heic_photo_from_an_iphone_becomes_webp_and_jpeg(media_root):
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(buffer, "HEIF")
    asset = upload_bytes(UserFactory(), buffer.getvalue(), filetype="image/heic")

    services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    assert (asset.mime_type, asset.status, asset.width, asset.height) == ("image/heic", "ready", 64, 48)
    assert asset.renditions["jpeg"] == {"name": "w64.jpg", "width": 64, "height": 48}


def test_animated_gif_keeps_its_first_frame_as_the_still(media_root):
    import io

    frames = [Image.new("RGB", (40, 30), color) for color in [(255, 0, 0), (0, 0, 255)]]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    asset = upload_bytes(UserFactory(), buffer.getvalue())

    services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    with Image.open(media_root / asset.storage_name("w40.jpg")) as still:
        red, green, blue = still.convert("RGB").getpixel((20, 15))
    assert (asset.mime_type, asset.status) == ("image/gif", "ready")
    assert red > 200 and blue < 60


@pytest.mark.slow
def test_webm_from_a_browser_is_transcoded_to_h264_hls(clips, media_root):
    asset = upload_bytes(UserFactory(), clips["clip.webm"].read_bytes())

    services.asset_process(asset_id=asset.pk)

    asset.refresh_from_db()
    assert (asset.mime_type, asset.status, asset.probe["video_codec"]) == ("video/webm", "ready", "vp9")
    assert [(v["name"], v["width"], v["height"]) for v in asset.renditions["variants"]] == [("180p", 320, 180)]
    streams = ffmpeg.probe(str(media_root / asset.storage_prefix / "hls/180p/index.m3u8"))["streams"]
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]
