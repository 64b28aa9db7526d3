"""Fixtures for messaging tests.

`fake_fcm` is a local HTTP server playing Google at the HTTP boundary: the OAuth token
endpoint named by the service-account file's `token_uri`, and FCM's v1 send endpoint
(FCM_API_BASE). The real pyfcm client and the real google-auth signer run against it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.tests.factories import UserFactory
from messaging import push
from social.models import Follow


def follow(follower, followee) -> None:
    Follow.objects.create(follower=follower, followee=followee)


@pytest.fixture
def users(db):
    """`users(n)` → n fresh users."""

    def make(n: int):
        return [UserFactory() for _ in range(n)]

    return make


class FakeFcm:
    """Records each FCM send; `answers[token] = (status, body)` overrides the 200 answer."""

    def __init__(self) -> None:
        self.sends: list[dict] = []
        self.token_requests = 0
        self.answers: dict[str, tuple[int, dict]] = {}
        self.lock = threading.Lock()


def _handler_for(fake: FakeFcm):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/token":
                with fake.lock:
                    fake.token_requests += 1
                self._reply(200, {"access_token": "fake-access-token", "expires_in": 3600, "token_type": "Bearer"})
                return
            if not self.path.endswith("/messages:send"):
                self._reply(404, {"error": {"status": "NOT_FOUND"}})
                return
            if self.headers.get("Authorization") != "Bearer fake-access-token":
                self._reply(401, {"error": {"status": "UNAUTHENTICATED"}})
                return
            body = json.loads(raw)
            token = body["message"].get("token")
            with fake.lock:
                fake.sends.append({"path": self.path, **body["message"]})
            status, answer = fake.answers.get(token, (200, {"name": f"projects/test/messages/{len(fake.sends)}"}))
            self._reply(status, answer)

    return Handler


@pytest.fixture
def fake_fcm(settings, tmp_path):
    fake = FakeFcm()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = tmp_path / "service-account.json"
    credentials.write_text(json.dumps({
        "type": "service_account",
        "project_id": "daira-test",
        "private_key_id": "test-key",
        "private_key": pem,
        "client_email": "push@daira-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{base}/token",
    }))
    settings.FCM_PROJECT_ID = "daira-test"
    settings.FCM_CREDENTIALS_FILE = str(credentials)
    settings.FCM_API_BASE = f"{base}/v1/projects"
    push._gateway = None
    yield fake
    server.shutdown()
    server.server_close()
    push._gateway = None
