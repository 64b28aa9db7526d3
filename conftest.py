"""Project-wide test fixtures. Tests run against the real (embedded or configured) Postgres and Redis."""

from __future__ import annotations

import pytest
from django.core.signals import got_request_exception
from rest_framework.test import APIClient

from daira.lib import events


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clean_redis(settings):
    """Each test starts with an empty Redis database (never db 0, the development data)."""
    from daira.lib.redis import get_redis

    client = get_redis()
    db = client.connection_pool.connection_kwargs.get("db", 0)
    assert db != 0, "Tests must not run on Redis db 0 (development data); set DAIRA_REDIS_DB."
    client.flushdb()
    yield


@pytest.fixture(autouse=True)
def _no_server_errors():
    """Any unhandled exception inside a request fails the test, even if a client swallows it."""
    failures: list[BaseException] = []

    def record(sender, request=None, **kwargs):
        import sys

        failures.append(sys.exc_info()[1])

    got_request_exception.connect(record, weak=False)
    yield
    got_request_exception.disconnect(record)
    assert not failures, f"A request raised an unhandled exception (a 500): {failures!r}"


class StrictAPIClient(APIClient):
    """An APIClient that fails the test on any 5xx response."""

    def request(self, **kwargs):
        response = super().request(**kwargs)
        assert response.status_code < 500, (
            f"{kwargs.get('REQUEST_METHOD')} {kwargs.get('PATH_INFO')} returned {response.status_code}: "
            f"{getattr(response, 'content', b'')[:500]!r}"
        )
        return response


@pytest.fixture
def api_client() -> StrictAPIClient:
    return StrictAPIClient()


def bearer_for(user) -> str:
    """An access token for `user`, issued the way a real login does."""
    from accounts.tests.factories import access_token_for

    return access_token_for(user)


@pytest.fixture
def auth_client(api_client):
    """`auth_client(user)` → a StrictAPIClient sending that user's Bearer token."""

    def make(user) -> StrictAPIClient:
        client = StrictAPIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer_for(user)}")
        return client

    return make


@pytest.fixture
def emitted_events():
    """Events sent after commit during the test, as (name, payload) tuples."""
    seen: list[tuple[str, dict]] = []

    def observe(name, payload):
        seen.append((name, dict(payload)))

    events.add_observer(observe)
    yield seen
    events.remove_observer(observe)


@pytest.fixture
def graphql(api_client):
    """`graphql(query, variables=None, user=None)` → the JSON body of a POST /graphql/."""

    def run(query: str, variables: dict | None = None, user=None) -> dict:
        client = StrictAPIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer_for(user)}")
        response = client.post("/graphql/", {"query": query, "variables": variables or {}}, format="json")
        assert response.status_code in (200, 400), response.content
        body = response.json()
        # GraphQL's 500: an unexpected exception in a resolver, masked for the client.
        internal = [e for e in body.get("errors") or [] if (e.get("extensions") or {}).get("code") == "internal_error"]
        assert not internal, f"A GraphQL resolver raised an unexpected exception (see the log): {internal!r}"
        return body

    return run


# --- Real browser (Debian chromium + chromedriver, driven by Selenium) -----------------------
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Background networking off: this machine has no outside network, and Chromium's own
# connections would otherwise fail noisily at every start.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-quic", "--window-size=1280,1000",
]


@pytest.fixture
def browser():
    """A headless Chromium. `make test` installs Debian's chromium + chromium-driver when
    missing and running as root (the Makefile's `browser` target); tests using this fixture
    skip, saying so, only when the binaries are not there."""
    import os

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"{CHROMIUM} or {CHROMEDRIVER} missing: run `make browser` as root to run browser tests")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()
