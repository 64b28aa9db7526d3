"""django-prometheus's Postgres backend, with Django's connection health check skipped for
a connection that finished a request cleanly moments ago.

Why: with persistent connections and CONN_HEALTH_CHECKS, Django sends `SELECT 1` before
the first query of every request. Under load every connection is busy all the time, so that
round trip (about 9% of a gift request's server time in the wallet bench's py-spy profile)
checks a connection that just answered the previous request. PgBouncer makes the same
trade (`server_check_delay`, 30 s by default).

Contract: a connection is checked at the start of a request as Django does, unless its
previous request used it and ended with no database error less than
`settings.DAIRA_DB_HEALTH_CHECK_GRACE_S` seconds ago (0 turns the grace off). If the server
dropped the connection inside that window, the request's first query fails with Django's
OperationalError, that error marks the connection, and Django closes it when the request
ends, as it does with health checks off. Connection pools are untouched (the pool checks).
"""

from __future__ import annotations

import time

from django.conf import settings
from django_prometheus.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    _proven_alive_at: float | None = None

    def close_if_unusable_or_obsolete(self):
        # Called before and after each request. `health_check_done` is True only after the
        # connection served a query in this request (Django resets it here), and
        # `errors_occurred` is set by any database error other than Data/IntegrityError.
        had_errors = self.errors_occurred
        used_cleanly = self.connection is not None and self.health_check_done and not had_errors
        super().close_if_unusable_or_obsolete()
        if self.connection is None or had_errors:
            self._proven_alive_at = None
        elif used_cleanly:
            self._proven_alive_at = time.monotonic()

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._proven_alive_at is not None
            and time.monotonic() - self._proven_alive_at < settings.DAIRA_DB_HEALTH_CHECK_GRACE_S
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close(self):
        self._proven_alive_at = None
        super().close()
