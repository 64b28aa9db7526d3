import os

import pytest

from media import validation
from media.tests.conftest import jpeg_with_exif, png_bytes


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0" + b"\0" * 60, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 56, "image/png"),
        (b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 48, "image/webp"),
        (b"GIF89a" + b"\0" * 58, "image/gif"),
        (b"\0\0\0\x18ftypheic" + b"\0" * 52, "image/heic"),
        (b"\0\0\0\x18ftypisom" + b"\0" * 52, "video/mp4"),
        (b"\0\0\0\x14ftypqt  " + b"\0" * 52, "video/quicktime"),
        (b"\0\0\0\x18ftyp3gp4" + b"\0" * 52, "video/3gpp"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\0" * 48, "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + b"\0" * 44, None),
        (b"%PDF-1.7" + b"\0" * 56, None),
        (b"<?php echo 1; ?>" + b"\0" * 48, None),
        (b"\0\0\0\x18ftypM4A " + b"\0" * 52, None),
    ],
)
def test_sniff_names_the_type_from_the_bytes_only(head, expected):
    assert validation.sniff(head) == expected


def test_inspect_image_reads_a_real_jpeg(tmp_path):
    path = tmp_path / "photo.bin"
    path.write_bytes(jpeg_with_exif(320, 200))

    info = validation.inspect_image(str(path))

    assert (info.width, info.height, info.format) == (320, 200, "JPEG")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: png_bytes(8000, 7000, mode="1"), "pixel_flood"),  # 56 MP
        (lambda: png_bytes(6000, 6000, mode="1"), "decompression_bomb"),  # 36 MP from a few KB
        (lambda: jpeg_with_exif(400, 300)[:1500], "truncated_file"),
        (lambda: b"\xff\xd8\xff\xe0" + b"garbage" * 100, "corrupt_file"),
    ],
)
def test_inspect_image_rejects_each_hostile_image_with_its_code(tmp_path, make, code):
    path = tmp_path / "hostile"
    path.write_bytes(make())

    with pytest.raises(validation.Rejected) as caught:
        validation.inspect_image(str(path))

    assert caught.value.code == code


def test_inspect_video_reports_display_size_duration_and_audio(clips):
    info = validation.inspect_video(str(clips["portrait.mp4"]))

    assert (info.width, info.height, info.has_audio, info.video_codec) == (480, 854, True, "h264")
    assert info.duration_s == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(
    ("clip", "code"),
    [
        ("audio_only.mp4", "audio_only"),
        ("truncated.mp4", "truncated_file"),
        ("corrupt.mp4", "corrupt_file"),
        ("uhd.mp4", "video_resolution_too_high"),
    ],
)
def test_inspect_video_rejects_each_bad_video_with_its_code(clips, clip, code):
    with pytest.raises(validation.Rejected) as caught:
        validation.inspect_video(str(clips[clip]))

    assert caught.value.code == code


def test_inspect_video_rejects_videos_over_the_length_limit(clips, settings):
    settings.MEDIA_VIDEO_MAX_SECONDS = 1

    with pytest.raises(validation.Rejected) as caught:
        validation.inspect_video(str(clips["portrait.mp4"]))

    assert caught.value.code == "video_too_long"


def test_probe_of_a_hostile_file_is_killed_at_its_time_limit(tmp_path, settings):
    # given: a named pipe nobody writes to makes ffprobe block forever
    fifo = tmp_path / "never.mp4"
    os.mkfifo(fifo)
    settings.MEDIA_PROBE_TIMEOUT_SECONDS = 1

    with pytest.raises(validation.Rejected) as caught:
        validation.inspect_video(str(fifo))

    assert caught.value.code == "probe_timeout"


def test_zero_duration_video_is_rejected(clips):
    with pytest.raises(validation.Rejected) as caught:
        validation.inspect_video(str(clips["empty.mp4"]))

    assert caught.value.code == "zero_duration"
