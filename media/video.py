"""Video outputs: the HLS ladder, poster, thumbnail strip, offline MP4 and the audio track.

A rung is named by the frame's short side, as phones and players do: a 9:16 video's
720p is 720x1280. The ladder stops at the source's short side (never upscaled); a
source smaller than 360p gets one rung at its own size.

`transcode` decodes the source once and feeds every output from one filter graph
(`split`), which bench/transcode.py measured against one decode per rung (see the
report in the media issue). `transcode_per_rung` is kept for that benchmark.

Output layout (relative to the output folder):

    hls/master.m3u8                 BANDWIDTH, RESOLUTION, CODECS for each rung
    hls/<rung>/index.m3u8, seg_00000.ts ...
    poster.jpg                      a frame a second in (or a third of a short clip)
    sprite.jpg + sprite.json        thumbnail strip for scrubbing, and its index
    offline.mp4                     360p (or the lowest rung) H.264/AAC, faststart
    audio.m4a                       the source's audio track (AAC), when it has one
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.conf import settings
from PIL import Image

from media import ffmpeg
from media.validation import VideoInfo


@dataclass(frozen=True)
class RungSpec:
    short_side: int
    video_bitrate: int  # bits per second
    audio_bitrate: int


LADDER = (
    RungSpec(360, 800_000, 96_000),
    RungSpec(480, 1_200_000, 96_000),
    RungSpec(720, 2_500_000, 128_000),
    RungSpec(1080, 5_000_000, 128_000),
)
THUMB_WIDTH = 160
THUMBS_DIR = "thumbs"
SPRITE_COLUMNS = 10
SPRITE_MAX_TILES = 100
OFFLINE_VIDEO_BITRATE = 700_000
OFFLINE_AUDIO_BITRATE = 64_000
AUDIO_BITRATE = 128_000


@dataclass(frozen=True)
class Rung:
    name: str  # "720p"
    width: int
    height: int
    video_bitrate: int
    audio_bitrate: int

    @property
    def bandwidth(self) -> int:
        return self.video_bitrate + self.audio_bitrate


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _rung(short: int, spec: RungSpec, width: int, height: int) -> Rung:
    if height >= width:  # portrait or square: the width is the short side
        w, h = short, _even(height * short / width)
    else:
        w, h = _even(width * short / height), short
    return Rung(name=f"{short}p", width=w, height=h, video_bitrate=spec.video_bitrate, audio_bitrate=spec.audio_bitrate)


def plan_ladder(width: int, height: int) -> list[Rung]:
    """The rungs for a `width` x `height` (as displayed) source, lowest first."""
    short = min(width, height)
    rungs = [_rung(spec.short_side, spec, width, height) for spec in LADDER if spec.short_side <= short]
    if not rungs:
        rungs = [_rung(_even(short - 1) if short % 2 else short, LADDER[0], width, height)]
    return rungs


@dataclass
class SpriteIndex:
    interval: float
    columns: int
    rows: int
    count: int
    tile_width: int
    tile_height: int


@dataclass
class VideoOutputs:
    rungs: list[Rung]
    master: str
    poster: str
    sprite: str
    sprite_index: str
    sprite_meta: SpriteIndex
    offline: str
    audio: str | None

    def as_renditions(self) -> dict:
        return {
            "master": self.master,
            "variants": [
                {
                    "name": r.name,
                    "width": r.width,
                    "height": r.height,
                    "bandwidth": r.bandwidth,
                    "playlist": f"hls/{r.name}/index.m3u8",
                }
                for r in self.rungs
            ],
            "poster": self.poster,
            "sprite": {"image": self.sprite, "index": self.sprite_index, **asdict(self.sprite_meta)},
            "offline": self.offline,
            "audio": self.audio,
        }


def _sprite_plan(info: VideoInfo, rung: Rung) -> SpriteIndex:
    interval = max(1.0, math.ceil(info.duration_s / SPRITE_MAX_TILES))
    count = max(1, math.ceil(info.duration_s / interval))
    tile_height = _even(THUMB_WIDTH * rung.height / rung.width)
    return SpriteIndex(
        interval=interval,
        columns=min(SPRITE_COLUMNS, count),
        rows=math.ceil(count / SPRITE_COLUMNS),
        count=count,
        tile_width=THUMB_WIDTH,
        tile_height=tile_height,
    )


def _poster_time(info: VideoInfo) -> float:
    return min(1.0, info.duration_s / 3)


def _x264(prefix: str, rung: Rung) -> list[str]:
    return [
        f"-c:v{prefix}",
        "libx264",
        f"-b:v{prefix}",
        str(rung.video_bitrate),
        f"-maxrate:v{prefix}",
        str(int(rung.video_bitrate * 1.07)),
        f"-bufsize:v{prefix}",
        str(int(rung.video_bitrate * 1.5)),
    ]


def _common_video(segment: int) -> list[str]:
    # Keyframes exactly on segment boundaries so each segment starts with an IDR frame
    # and every rung switches at the same instants.
    return [
        "-preset",
        "veryfast",
        "-profile:v",
        "main",
        "-pix_fmt",
        "yuv420p",
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{segment})",
    ]


def _audio_input(info: VideoInfo) -> tuple[list[str], str]:
    """Extra input args and the audio stream spec (a silent track when the source has none)."""
    if info.has_audio:
        return [], "0:a:0"
    return [
        "-f",
        "lavfi",
        "-t",
        f"{info.duration_s:.3f}",
        "-i",
        "anullsrc=channel_layout=stereo:sample_rate=48000",
    ], "1:a:0"


def _side_outputs(info: VideoInfo, out_dir: str, labels: dict[str, str], audio: str) -> list[str]:
    args = [
        # poster: one full-size frame (capped at the top rung)
        "-map",
        labels["poster"],
        "-map_metadata",
        "-1",
        "-frames:v",
        "1",
        "-q:v",
        "3",
        "-update",
        "1",
        os.path.join(out_dir, "poster.jpg"),
        # thumbnail strip: one tile per interval, SPRITE_COLUMNS across
        # thumbnails as they come (a `tile` filter would emit only at the end, and ffmpeg
        # reports no progress until every output has started); tiled into the sprite after
        "-map",
        labels["sprite"],
        "-map_metadata",
        "-1",
        "-q:v",
        "5",
        "-f",
        "image2",
        os.path.join(out_dir, THUMBS_DIR, "%04d.jpg"),
        # offline MP4 at the lowest rung
        "-map",
        labels["offline"],
        "-map",
        audio,
        "-map_metadata",
        "-1",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "main",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        str(OFFLINE_VIDEO_BITRATE),
        "-maxrate",
        str(int(OFFLINE_VIDEO_BITRATE * 1.1)),
        "-bufsize",
        str(OFFLINE_VIDEO_BITRATE * 2),
        "-c:a",
        "aac",
        "-b:a",
        str(OFFLINE_AUDIO_BITRATE),
        "-ac",
        "2",
        "-movflags",
        "+faststart",
        "-shortest",
        os.path.join(out_dir, "offline.mp4"),
    ]
    if info.has_audio:
        args += [
            "-map",
            "0:a:0",
            "-map_metadata",
            "-1",
            "-vn",
            "-c:a",
            "aac",
            "-b:a",
            str(AUDIO_BITRATE),
            os.path.join(out_dir, "audio.m4a"),
        ]
    return args


def _side_filters(info: VideoInfo, rungs: list[Rung]) -> tuple[list[str], dict[str, str]]:
    """Filter chains for the poster, sprite and offline MP4, fed from the [sp] [st] [so] branches."""
    low, top = rungs[0], rungs[-1]
    sprite = _sprite_plan(info, low)
    graph = [
        f"[sp]trim=start={_poster_time(info):.3f},setpts=PTS-STARTPTS,scale={top.width}:{top.height},setsar=1[poster]",
        f"[st]fps=1/{sprite.interval:g},scale={sprite.tile_width}:{sprite.tile_height},setsar=1[sprite]",
        f"[so]scale={low.width}:{low.height},setsar=1[offline]",
    ]
    return graph, {"poster": "[poster]", "sprite": "[sprite]", "offline": "[offline]"}


def build_one_pass(info: VideoInfo, source: str, out_dir: str, rungs: list[Rung]) -> list[str]:
    """The one-decode ffmpeg command: split once, scale per rung, HLS + side outputs."""
    segment = settings.MEDIA_HLS_SEGMENT_SECONDS
    audio_args, audio = _audio_input(info)
    os.makedirs(os.path.join(out_dir, "hls"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, THUMBS_DIR), exist_ok=True)
    branches = [f"[r{i}]" for i in range(len(rungs))] + ["[sp]", "[st]", "[so]"]
    graph = [f"[0:v:0]split={len(branches)}{''.join(branches)}"]
    for i, rung in enumerate(rungs):
        graph.append(f"[r{i}]scale={rung.width}:{rung.height},setsar=1[v{i}]")
    side_graph, labels = _side_filters(info, rungs)
    graph += side_graph

    args = [ffmpeg.ffmpeg_binary(), "-hide_banner", "-nostdin", "-y", "-v", "error", "-i", source, *audio_args]
    if settings.MEDIA_FFMPEG_THREADS:
        args += ["-threads", str(settings.MEDIA_FFMPEG_THREADS)]
    args += ["-filter_complex", ";".join(graph), "-progress", "pipe:1", "-nostats"]
    for i in range(len(rungs)):
        args += ["-map", f"[v{i}]", "-map", audio]
    for i, rung in enumerate(rungs):
        args += _x264(f":{i}", rung)
        args += [f"-b:a:{i}", str(rung.audio_bitrate)]
    args += _common_video(segment)
    args += ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
    args += _hls_args(rungs, out_dir, segment)
    args += _side_outputs(info, out_dir, labels, audio)
    return args


def _hls_args(rungs: list[Rung], out_dir: str, segment: int) -> list[str]:
    stream_map = " ".join(f"v:{i},a:{i},name:{rung.name}" for i, rung in enumerate(rungs))
    return [
        "-map_metadata",
        "-1",  # no GPS or device tags from the phone in what we serve
        "-f",
        "hls",
        "-hls_time",
        str(segment),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_type",
        "mpegts",
        "-hls_segment_filename",
        os.path.join(out_dir, "hls", "%v", "seg_%05d.ts"),
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        stream_map,
        os.path.join(out_dir, "hls", "%v", "index.m3u8"),
    ]


def transcode(
    info: VideoInfo,
    source: str,
    out_dir: str,
    *,
    on_progress: Callable[[float], None] | None = None,
) -> VideoOutputs:
    """Make every output of `source` in `out_dir` with one decode; raise ffmpeg.FFmpegError."""
    rungs = plan_ladder(info.width, info.height)
    args = build_one_pass(info, source, out_dir, rungs)
    _run(args, info, on_progress)
    return _finish(info, out_dir, rungs)


def transcode_per_rung(info: VideoInfo, source: str, out_dir: str) -> VideoOutputs:
    """The same outputs with one decode per rung (and per side output): for the benchmark."""
    segment = settings.MEDIA_HLS_SEGMENT_SECONDS
    rungs = plan_ladder(info.width, info.height)
    audio_args, audio = _audio_input(info)
    for rung in rungs:
        os.makedirs(os.path.join(out_dir, "hls", rung.name), exist_ok=True)
        args = [
            ffmpeg.ffmpeg_binary(),
            "-hide_banner",
            "-nostdin",
            "-y",
            "-v",
            "error",
            "-i",
            source,
            *audio_args,
            "-filter_complex",
            f"[0:v:0]scale={rung.width}:{rung.height},setsar=1[v0]",
            "-map",
            "[v0]",
            "-map",
            audio,
            *_x264(":0", rung),
            "-b:a:0",
            str(rung.audio_bitrate),
            *_common_video(segment),
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-ar",
            "48000",
            "-map_metadata",
            "-1",
            "-f",
            "hls",
            "-hls_time",
            str(segment),
            "-hls_playlist_type",
            "vod",
            "-hls_flags",
            "independent_segments",
            "-hls_segment_filename",
            os.path.join(out_dir, "hls", rung.name, "seg_%05d.ts"),
            os.path.join(out_dir, "hls", rung.name, "index.m3u8"),
        ]
        _run(args, info, None)
    side_graph, labels = _side_filters(info, rungs)
    os.makedirs(os.path.join(out_dir, THUMBS_DIR), exist_ok=True)
    args = [
        ffmpeg.ffmpeg_binary(),
        "-hide_banner",
        "-nostdin",
        "-y",
        "-v",
        "error",
        "-i",
        source,
        *audio_args,
        "-filter_complex",
        ";".join(["[0:v:0]split=3[sp][st][so]", *side_graph]),
        *_side_outputs(info, out_dir, labels, audio),
    ]
    _run(args, info, None)
    _write_master(out_dir, rungs)
    return _finish(info, out_dir, rungs)


def _run(args: list[str], info: VideoInfo, on_progress: Callable[[float], None] | None) -> None:
    timeout = 60 + info.duration_s * settings.MEDIA_TRANSCODE_TIMEOUT_FACTOR
    callback = None
    if on_progress is not None:
        total_frames = max(1.0, info.duration_s * info.fps)

        def callback(block: dict[str, str]) -> None:
            # `frame` counts decoded source frames; out_time follows whichever output
            # reported last (the one-frame poster included), so it is not monotonic.
            frame = block.get("frame", "")
            if frame.isdigit():
                on_progress(min(1.0, int(frame) / total_frames))

    ffmpeg.run(args, limits=ffmpeg.default_limits(timeout), on_progress=callback)


_STREAM_INF = re.compile(r"^#EXT-X-STREAM-INF:(.*)$")


def _codecs(out_dir: str, rung: Rung) -> str:
    """The RFC 6381 CODECS value of a rung, read from its first segment's H.264 profile/level."""
    segment = os.path.join(out_dir, "hls", rung.name, "seg_00000.ts")
    try:
        data = ffmpeg.probe(segment)
        video = next(s for s in data["streams"] if s.get("codec_type") == "video")
        profile = {"Baseline": 66, "Constrained Baseline": 66, "Main": 77, "High": 100}.get(video.get("profile"), 77)
        constraint = 0x40 if profile == 77 else (0xE0 if profile == 66 else 0)
        level = int(video.get("level") or 31)
        return f"avc1.{profile:02x}{constraint:02x}{level:02x},mp4a.40.2"
    except (ffmpeg.FFmpegError, StopIteration, KeyError, ValueError, TypeError):
        return "avc1.4d401f,mp4a.40.2"


def _write_master(out_dir: str, rungs: list[Rung]) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in rungs:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rung.bandwidth},AVERAGE-BANDWIDTH={rung.bandwidth},"
            f'RESOLUTION={rung.width}x{rung.height},CODECS="{_codecs(out_dir, rung)}"'
        )
        lines.append(f"{rung.name}/index.m3u8")
    with open(os.path.join(out_dir, "hls", "master.m3u8"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _build_sprite(info: VideoInfo, out_dir: str, low: Rung) -> SpriteIndex:
    """Tile the thumbnails ffmpeg wrote into sprite.jpg (row by row) and drop them."""
    plan = _sprite_plan(info, low)
    folder = os.path.join(out_dir, THUMBS_DIR)
    names = sorted(os.listdir(folder))[:SPRITE_MAX_TILES]
    count = max(1, len(names))
    columns = min(SPRITE_COLUMNS, count)
    rows = math.ceil(count / SPRITE_COLUMNS)
    sheet = Image.new("RGB", (columns * plan.tile_width, rows * plan.tile_height))
    for index, name in enumerate(names):
        with Image.open(os.path.join(folder, name)) as thumb:
            sheet.paste(
                thumb.convert("RGB"), ((index % columns) * plan.tile_width, (index // columns) * plan.tile_height)
            )
    sheet.save(os.path.join(out_dir, "sprite.jpg"), "JPEG", quality=70)
    shutil.rmtree(folder, ignore_errors=True)
    return SpriteIndex(
        interval=plan.interval,
        columns=columns,
        rows=rows,
        count=count,
        tile_width=plan.tile_width,
        tile_height=plan.tile_height,
    )


def _finish(info: VideoInfo, out_dir: str, rungs: list[Rung]) -> VideoOutputs:
    # ffmpeg's own master playlist omits CODECS for MPEG-TS H.264 (no global header), and
    # lists rungs in map order; write ours so every attribute players need is there.
    _write_master(out_dir, rungs)
    sprite = _build_sprite(info, out_dir, rungs[0])
    with open(os.path.join(out_dir, "sprite.json"), "w") as handle:
        json.dump(asdict(sprite), handle)
    audio = "audio.m4a" if info.has_audio and os.path.exists(os.path.join(out_dir, "audio.m4a")) else None
    return VideoOutputs(
        rungs=rungs,
        master="hls/master.m3u8",
        poster="poster.jpg",
        sprite="sprite.jpg",
        sprite_index="sprite.json",
        sprite_meta=sprite,
        offline="offline.mp4",
        audio=audio,
    )
