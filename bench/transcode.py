"""Transcoding benchmark (run by hand): our media pipeline vs plain ffmpeg, one pass vs per rung.

    DAIRA_DEBUG=true .venv/bin/python bench/transcode.py [--seconds 30] [--size 1920x1080]

Makes a 30 s 1080p 30 fps clip from ffmpeg's test sources (testsrc2 + a sine tone), then
times, in the same run:

  pipeline      what a media worker does: ffprobe (guarded), the one-decode transcode with
                progress, our master playlist with CODECS, storing every output through
                Django's storage API (local files here; no database round trips)
  plain         the identical one-decode ffmpeg command run bare (no limits, no progress)
  per_rung      one decode per rung (+ one for poster/sprite/offline MP4), as many
                pipelines do, to show what decoding once saves

and writes bench/reports/transcode-<time>.json with wall time, realtime factor, our overhead
over plain ffmpeg (goal <= 10 %) and the one-pass speed-up, in wall time and in CPU time
(the latter stays meaningful on a machine shared with other work).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
os.environ.setdefault("DAIRA_DEBUG", "true")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args()

    # Only settings are needed (no database): configure Django lazily.
    import django
    from django.conf import settings

    work = Path(tempfile.mkdtemp(prefix="daira-bench-"))
    os.environ["DAIRA_MEDIA_ROOT"] = str(work / "storage")
    django.setup()
    from media import ffmpeg, storage, validation, video

    source = work / "source.mp4"
    subprocess.run(
        [
            ffmpeg.ffmpeg_binary(),
            "-hide_banner",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={options.size}:rate=30:duration={options.seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={options.seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "fast",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(source),
        ],
        check=True,
    )

    def fresh(name: str) -> Path:
        folder = work / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return folder

    runs: dict[str, list[float]] = {"pipeline": [], "plain": [], "per_rung": []}
    # CPU seconds (this process + its ffmpeg children): on a shared, loaded machine wall time
    # mostly measures the neighbours; CPU time still measures the work each variant does.
    cpu: dict[str, list[float]] = {"pipeline": [], "plain": [], "per_rung": []}

    def cpu_now() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    for _ in range(options.repeat):
        # plain ffmpeg: the same one-pass command, bare
        info = validation.inspect_video(str(source))
        out = fresh("plain")
        args = [
            a for a in video.build_one_pass(info, str(source), str(out), video.plan_ladder(info.width, info.height))
        ]
        index = args.index("-progress")
        del args[index : index + 3]  # "-progress pipe:1 -nostats"
        started, cpu_started = time.perf_counter(), cpu_now()
        subprocess.run(args, check=True)
        runs["plain"].append(time.perf_counter() - started)
        cpu["plain"].append(cpu_now() - cpu_started)

        # our pipeline
        out = fresh("pipeline")
        started, cpu_started = time.perf_counter(), cpu_now()
        info = validation.inspect_video(str(source))
        progress: list[float] = []
        outputs = video.transcode(info, str(source), str(out), on_progress=progress.append)
        storage.save_tree("bench/asset", str(out))
        runs["pipeline"].append(time.perf_counter() - started)
        cpu["pipeline"].append(cpu_now() - cpu_started)
        storage.delete_prefix("bench")

        # one decode per rung
        out = fresh("per_rung")
        started, cpu_started = time.perf_counter(), cpu_now()
        video.transcode_per_rung(info, str(source), str(out))
        runs["per_rung"].append(time.perf_counter() - started)
        cpu["per_rung"].append(cpu_now() - cpu_started)

    best = {name: min(times) for name, times in runs.items()}
    best_cpu = {name: min(times) for name, times in cpu.items()}
    report = {
        "clip": {"seconds": options.seconds, "size": options.size, "fps": 30},
        "rungs": [f"{r.name} {r.width}x{r.height} {r.video_bitrate // 1000}k" for r in outputs.rungs],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "ffmpeg": ffmpeg.ffmpeg_binary()},
        "wall_seconds": {name: round(value, 2) for name, value in best.items()},
        "realtime_factor": {name: round(options.seconds / value, 2) for name, value in best.items()},
        "pipeline_overhead_vs_plain_pct": round((best["pipeline"] / best["plain"] - 1) * 100, 1),
        "one_pass_speedup_vs_per_rung": round(best["per_rung"] / best["pipeline"], 2),
        "cpu_seconds": {name: round(value, 2) for name, value in best_cpu.items()},
        "pipeline_cpu_overhead_vs_plain_pct": round((best_cpu["pipeline"] / best_cpu["plain"] - 1) * 100, 1),
        "one_pass_cpu_saving_vs_per_rung_pct": round((1 - best_cpu["pipeline"] / best_cpu["per_rung"]) * 100, 1),
        "load_average_after": os.getloadavg(),
        "runs": runs,
        "cpu_runs": cpu,
        "progress_callbacks": len(progress),
    }
    reports = ROOT / "bench" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    target = reports / f"transcode-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    print(f"report: {target}")
    shutil.rmtree(work, ignore_errors=True)
    del settings


if __name__ == "__main__":
    main()
