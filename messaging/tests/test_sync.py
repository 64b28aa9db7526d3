"""Catch-up after a drop: GET /api/v1/sync?since=<cursor>."""

import pytest

from messaging import notifications, selectors, services
from messaging.tests.conftest import follow

pytestmark = pytest.mark.django_db


def _events(result):
    return [(c["event"], c["payload"].get("id") or c["payload"].get("message_id")) for c in result["changes"]]


def test_sync_returns_everything_missed_in_order_and_only_mine(users, settings, auth_client):
    # given: omar's phone synced, then lost its connection
    settings.MESSAGING_SYNC_SAFETY_MS = 0
    mona, omar, outsider = users(3)
    follow(omar, mona)
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    cursor = auth_client(omar).get("/api/v1/sync").json()["cursor"]

    # when: things happen while omar is away
    first = services.message_send(actor=mona, conversation_id=conversation.pk, body="one")
    second = services.message_send(actor=mona, conversation_id=conversation.pk, body="two")
    services.message_edit(actor=mona, message_id=first.pk, body="one (edited)")
    services.message_unsend(actor=mona, message_id=second.pk)
    services.message_delete_for_me(actor=mona, message_id=first.pk)  # mona's own business
    notification = notifications.notification_record(recipient_id=omar.pk, type="follow", actor_id=mona.pk,
                                                      target_type="user", target_id=omar.pk)
    elsewhere = services.conversation_direct_start(actor=mona, other_id=outsider.pk)
    services.message_send(actor=mona, conversation_id=elsewhere.pk, body="not for omar")
    response = auth_client(omar).get("/api/v1/sync", {"since": cursor})

    # then
    assert response.status_code == 200
    body = response.json()
    assert _events(body) == [
        ("message.created", str(first.pk)),
        ("message.created", str(second.pk)),
        ("message.updated", str(first.pk)),
        ("message.deleted", str(second.pk)),
        ("notification.created", str(notification.pk)),
    ]
    assert body["changes"][2]["payload"]["body"] == "one (edited)"
    assert body["has_more"] is False
    assert auth_client(omar).get("/api/v1/sync", {"since": body["cursor"]}).json()["changes"] == []


def test_sync_pages_with_has_more(users, settings):
    settings.MESSAGING_SYNC_SAFETY_MS = 0
    mona, omar = users(2)
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    start = selectors.sync_changes(viewer=omar, since=None)["cursor"]
    sent = [services.message_send(actor=mona, conversation_id=conversation.pk, body=f"m{i}").pk for i in range(3)]

    page = selectors.sync_changes(viewer=omar, since=start, limit=2)
    rest = selectors.sync_changes(viewer=omar, since=page["cursor"], limit=2)

    assert [c["payload"]["id"] for c in page["changes"]] == [str(sent[0]), str(sent[1])]
    assert page["has_more"] is True
    assert [c["payload"]["id"] for c in rest["changes"]] == [str(sent[2])]
    assert rest["has_more"] is False


def test_the_cursor_trails_the_clock_so_late_commits_are_replayed_not_lost(users):
    # given the default safety margin (5 s)
    mona, omar = users(2)
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    start = selectors.sync_changes(viewer=omar, since=None)["cursor"]
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="hi")

    first = selectors.sync_changes(viewer=omar, since=start)
    again = selectors.sync_changes(viewer=omar, since=first["cursor"])

    # then: a change younger than the margin is sent again (clients dedupe by change id)
    assert [c["payload"]["id"] for c in first["changes"]] == [str(message.pk)]
    assert [c["id"] for c in again["changes"]] == [c["id"] for c in first["changes"]]


def test_sync_rejects_a_garbage_cursor(users, auth_client):
    (mona,) = users(1)

    response = auth_client(mona).get("/api/v1/sync", {"since": "%%%not-a-cursor"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
