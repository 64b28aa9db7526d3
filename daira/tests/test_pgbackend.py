"""daira.lib.pgbackend: the health check is skipped only for a connection that just ended a
request cleanly (real Postgres, persistent connection); timestamptz values load as Django's
own loader loads them."""

import datetime

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import Format

from accounts.models import User
from daira.lib.pgbackend.base import _TIMESTAMPTZ_OID, _FastTzLoader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def persistent_connection():
    """The default connection as production runs it: persistent, with health checks."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    connection.ensure_connection()
    yield connection
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def _request(work=lambda: User.objects.count()):
    """What the ASGI handler does around a view."""
    close_old_connections()
    try:
        work()
    finally:
        close_old_connections()


def _checks_at_next_request_start(mocker, conn):
    spy = mocker.spy(conn, "is_usable")
    close_old_connections()
    User.objects.count()
    calls = spy.call_count
    close_old_connections()
    mocker.stop(spy)
    return calls


def test_a_connection_that_just_served_a_request_is_not_checked_again(persistent_connection, mocker, settings):
    settings.DAIRA_DB_HEALTH_CHECK_GRACE_S = 5
    _request()
    backend_pid = persistent_connection.connection.info.backend_pid

    assert _checks_at_next_request_start(mocker, persistent_connection) == 0
    assert persistent_connection.connection.info.backend_pid == backend_pid  # same connection, reused


def test_after_the_grace_the_connection_is_checked(persistent_connection, mocker, settings):
    settings.DAIRA_DB_HEALTH_CHECK_GRACE_S = 0
    _request()

    assert _checks_at_next_request_start(mocker, persistent_connection) == 1


def test_after_a_database_error_the_connection_is_checked(persistent_connection, mocker, settings):
    # given: a clean request, then one whose query failed with an OperationalError (a
    # statement timeout)
    settings.DAIRA_DB_HEALTH_CHECK_GRACE_S = 60
    _request()

    def timed_out():
        with persistent_connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 1")
            try:
                cursor.execute("SELECT pg_sleep(1)")
            except OperationalError:
                pass
            cursor.execute("SET statement_timeout = 0")

    spy = mocker.spy(persistent_connection, "is_usable")
    _request(timed_out)
    checked_after_the_error = spy.call_count
    mocker.stop(spy)

    # then: it was checked (Django checks at the end of that request), and the earlier clean
    # request's grace no longer covers the next one
    assert checked_after_the_error == 1
    assert _checks_at_next_request_start(mocker, persistent_connection) == 0  # the check just made counts
    assert persistent_connection._proven_alive_at is not None


def test_a_connection_killed_inside_the_grace_fails_one_request_and_is_replaced(persistent_connection, settings):
    # given: the server ends the connection between two requests
    settings.DAIRA_DB_HEALTH_CHECK_GRACE_S = 60
    _request()
    from django.db import connections

    victim = persistent_connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [victim])
    finally:
        other.close()

    # when: the next request's query fails (Django's error), and the one after
    with pytest.raises(OperationalError):
        _request()
    _request()

    # then: a new server connection serves it
    assert persistent_connection.connection.info.backend_pid != victim


def _through_djangos_own_loader(sql: str, zone) -> list:
    """`sql`'s first column as Django's stock timestamptz loader for `zone` loads it."""

    class DjangosLoader(BaseTzLoader):
        timezone = zone

    with psycopg.Cursor(connection.connection) as reference:
        reference.adapters.register_loader("timestamptz", DjangosLoader)
        reference.execute(sql)
        return [row[0] for row in reference.fetchall()]


def test_timestamptz_values_load_as_djangos_loader_loads_them():
    """The native-parsing loader gives what Django's gives: aware datetimes in UTC, for
    microseconds, offsets, the first and last years and a DST gap, through Django's cursors
    and through raw psycopg cursors on the same connection (the prepared-statement path)."""
    sql = ("SELECT v FROM unnest(ARRAY['2026-12-07 18:00:00.123456+00', '2026-06-01 03:04:05+03',"
           "'0001-01-01 00:00:00+00', '9999-12-31 23:59:59.999999+00', '2026-03-29 02:30:00+02']"
           "::timestamptz[]) AS v")
    with connection.cursor() as cursor:
        cursor.execute(sql)
        through_django = [row[0] for row in cursor.fetchall()]
    with psycopg.Cursor(connection.connection) as raw:
        raw.execute(sql)
        through_psycopg = [row[0] for row in raw.fetchall()]
    expected = _through_djangos_own_loader(sql, datetime.timezone.utc)

    assert issubclass(connection.connection.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT), _FastTzLoader)
    assert through_django == through_psycopg == expected
    assert [v.tzinfo for v in through_django] == [datetime.timezone.utc] * len(expected)
    assert expected[0] == datetime.datetime(2026, 12, 7, 18, 0, 0, 123456, tzinfo=datetime.timezone.utc)


def test_with_use_tz_off_values_are_naive_local_times_as_djangos_loader_gives(settings):
    """USE_TZ off: Django sets the session to TIME_ZONE and wants naive datetimes."""
    sql = "SELECT '2026-12-07 18:00:00+00'::timestamptz"
    connection.close()
    settings.USE_TZ = False
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            value = cursor.fetchone()[0]
        [expected] = _through_djangos_own_loader(sql, None)
    finally:
        connection.close()
        settings.USE_TZ = True
    assert value == expected == datetime.datetime(2026, 12, 7, 20, 0, 0)  # Cairo, UTC+2 in December
    assert value.tzinfo is None
