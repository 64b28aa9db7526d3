"""Settings fail closed: production mode refuses to start without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def _load_settings(**overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAIRA_", "DATABASE_URL", "REDIS_URL"))}
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
        cwd=BASE_DIR,
        env={**env, "PYTHONPATH": str(BASE_DIR), "DJANGO_SETTINGS_MODULE": "daira.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _without_dotenv(**overrides: str) -> subprocess.CompletedProcess:
    # settings.py reads BASE_DIR/.env when present; real variables win, so setting the
    # variables explicitly to the values under test keeps the check honest.
    return _load_settings(**overrides)


def test_missing_secret_key_stops_startup_when_debug_is_off():
    result = _without_dotenv(DAIRA_DEBUG="false", DAIRA_SECRET_KEY="", DATABASE_URL="postgres://x@127.0.0.1:1/x")

    assert result.returncode != 0
    assert "ImproperlyConfigured: DAIRA_SECRET_KEY must be set when DAIRA_DEBUG is off" in result.stderr


def test_missing_database_url_stops_startup_when_debug_is_off():
    result = _without_dotenv(DAIRA_DEBUG="false", DAIRA_SECRET_KEY="s" * 50, DATABASE_URL="")

    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL must be set when DAIRA_DEBUG is off" in result.stderr


def test_production_settings_load_when_everything_is_configured():
    result = _without_dotenv(
        DAIRA_DEBUG="false",
        DAIRA_SECRET_KEY="s" * 50,
        DATABASE_URL="postgres://daira@127.0.0.1:1/daira",
        REDIS_URL="redis://127.0.0.1:1/0",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
