"""The official tuspy client against a real server (live_server), resumed from a new process."""

import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from accounts.tests.factories import UserFactory, access_token_for
from media import storage
from media.models import MediaAsset, Upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENT = r"""
import sys
from tusclient import client
from tusclient.storage.filestorage import FileStorage

endpoint, token, path, store, mode = sys.argv[1:]
tus = client.TusClient(endpoint, headers={"Authorization": "Bearer " + token})
uploader = tus.uploader(
    path, chunk_size=16384, metadata={"filename": "clip.mp4", "filetype": "video/mp4"},
    store_url=True, url_storage=FileStorage(store),
)
if mode == "start":
    uploader.upload_chunk()  # then this process ends, as an app killed in the background
else:
    uploader.upload()
print(uploader.offset, uploader.url)
"""


def _run_client(*args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", CLIENT, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    offset, url = done.stdout.split()
    return int(offset), url


def _patch_and_drop(url: str, token: str, offset: int, body: bytes, claimed_length: int) -> None:
    """Send a PATCH that promises `claimed_length` bytes, send `body`, then drop the connection."""
    parts = urlsplit(url)
    request = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {claimed_length}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request + body)
        sock.shutdown(socket.SHUT_WR)  # the phone lost its signal
        sock.recv(65536)


def test_tuspy_upload_resumes_in_a_new_process_after_a_dropped_connection(live_server, clips, tmp_path):
    # given: a user, a 2 s clip, and a place where tuspy remembers upload URLs
    user = UserFactory()
    token = access_token_for(user)
    data = clips["portrait.mp4"].read_bytes()
    endpoint = f"{live_server.url}/api/v1/uploads/"
    store = str(tmp_path / "tus-urls.json")

    # when: one process uploads the first chunk and exits...
    offset, url = _run_client(endpoint, token, str(clips["portrait.mp4"]), store, "start")
    # ...the next PATCH loses its connection half way through its body...
    _patch_and_drop(url, token, offset, data[offset : offset + 10_000], claimed_length=20_000)
    kept = Upload.objects.get().offset
    # ...and a new process resumes from the stored URL and finishes
    final_offset, resumed_url = _run_client(endpoint, token, str(clips["portrait.mp4"]), store, "resume")

    # then: the bytes that arrived before the drop were kept, and the file is whole
    upload = Upload.objects.get()
    assert (offset, kept) == (16384, 16384 + 10_000)
    assert (resumed_url, final_offset, upload.offset) == (url, len(data), len(data))
    asset = MediaAsset.objects.get(pk=upload.asset_id)
    assert (asset.owner_id, asset.status, asset.mime_type) == (user.pk, "uploaded", "video/mp4")
    joined = tmp_path / "joined.mp4"
    storage.assemble(asset.source_parts, str(joined))
    assert joined.read_bytes() == data
