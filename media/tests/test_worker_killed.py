"""A worker killed mid-transcode leaves the asset retryable, not stuck in processing."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from media import ffmpeg, services
from media.models import MediaAsset
from media.tests.conftest import upload_bytes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER = """
import django, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
django.setup()
from media import services
services.asset_process(asset_id=int(sys.argv[1]))
"""


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT']}/{db['NAME']}"


def test_worker_killed_mid_transcode_leaves_the_asset_retryable(media_root, tmp_path):
    # given: an uploaded 8 s clip (long enough to be caught mid-transcode)
    clip = tmp_path / "long.mp4"
    subprocess.run(
        [
            ffmpeg.ffmpeg_binary(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=480x854:rate=30:duration=8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
        timeout=60,
    )
    asset = upload_bytes(UserFactory(), clip.read_bytes())
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DAIRA_MEDIA_ROOT": str(media_root),
        "PYTHONPATH": os.getcwd(),
    }

    # when: a worker process starts on it and is SIGKILLed once the transcode reports progress
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(asset.pk)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        asset.refresh_from_db()
        if asset.status == "processing" and asset.progress >= 10 or worker.poll() is not None:
            break
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    # then: it is left processing under a lease (not ready, not failed), with no outputs stored
    asset.refresh_from_db()
    assert (asset.status, asset.attempts) == ("processing", 1)
    assert 10 <= asset.progress < 100
    assert asset.lease_expires_at > timezone.now()
    assert not (media_root / asset.storage_prefix / "hls").exists()

    # and once the lease lapses, beat requeues it and the next attempt finishes the job
    MediaAsset.objects.filter(pk=asset.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.assets_requeue_stale() == [asset.pk]
    services.asset_process(asset_id=asset.pk)
    asset.refresh_from_db()
    assert (asset.status, asset.attempts, asset.progress) == ("ready", 2, 100)
    assert [v["name"] for v in asset.renditions["variants"]] == ["360p", "480p"]
