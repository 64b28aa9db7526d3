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

Also: timestamptz values are parsed by psycopg's C loader (see `_FastTzLoader`).
"""

from __future__ import annotations

import functools
import time

import psycopg
from django.conf import settings
from django_prometheus.db.backends.postgresql import base
from psycopg.adapt import Loader
from psycopg.pq import Format

_TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
# psycopg's fastest timestamptz text loader (the C one with psycopg[binary]); Django's own
# loader subclasses the pure-Python class and so parses every value in Python: about 7.5 µs
# a value, 63 values (0.45 ms, ~8% of the CPU) on a home-feed page.
_NATIVE_TZ_LOADER = psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)


class _FastTzLoader(Loader):
    """Django's timestamptz loader (`psycopg_any.BaseTzLoader`: the value psycopg parses in
    the session's time zone, with its tzinfo replaced by `timezone`), delegating the parsing
    to the native loader. `timezone` is set per subclass, like Django's, so Django's own
    check in `create_cursor` (`self.timezone != tzloader.timezone`) still works: if the
    wrapper's zone ever differs from the connection's it registers its own loader."""

    timezone = None

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._native = _NATIVE_TZ_LOADER(oid, context)

    def load(self, data):
        value = self._native.load(data)
        zone = self.timezone
        # Already the right object in the usual case (session and Django both UTC).
        return value if value.tzinfo is zone else value.replace(tzinfo=zone)


@functools.cache  # one class per zone (a handful), not one per new connection
def _fast_tz_loader_for(zone):
    return type("FastTzLoader", (_FastTzLoader,), {"timezone": zone})


class DatabaseWrapper(base.DatabaseWrapper):
    _proven_alive_at: float | None = None

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # The connection's adapters start as Django's template (its Python tz loader for
        # `self.timezone`); replace that loader on this connection only.
        connection.adapters.register_loader("timestamptz", _fast_tz_loader_for(self.timezone))
        return connection

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
