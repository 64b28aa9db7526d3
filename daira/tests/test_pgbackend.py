"""daira.lib.pgbackend: the health check is skipped only for a connection that just ended a
request cleanly (real Postgres, persistent connection)."""

import pytest
from django.db import OperationalError, close_old_connections, connection

from accounts.models import User

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
