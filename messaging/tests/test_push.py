"""Push through FCM (real pyfcm + google-auth against a local HTTP server): devices, push only
when offline or still unread later, Arabic/English text, collapse keys, token pruning."""

import base64
import json

import pytest

from accounts.models import Profile
from daira.lib.redis import get_redis
from messaging import live, notifications, services, tasks
from messaging.models import Notification, PushDevice
from messaging.tests.conftest import follow

pytestmark = pytest.mark.django_db

PUSH_TASK = "messaging.tasks.notification_push_task"


def _queued(task_name: str) -> list[dict]:
    """Tasks waiting in the Celery broker (Redis list "default"), as {kwargs, eta}."""
    found = []
    for raw in get_redis().lrange("default", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] != task_name:
            continue
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        found.append({"kwargs": kwargs, "eta": message["headers"].get("eta")})
    return found


def _like(recipient, actor, post_id=1):
    return notifications.notification_record(recipient_id=recipient.pk, type="like", actor_id=actor.pk,
                                             target_type="post", target_id=post_id)


def test_device_register_moves_a_token_between_accounts_and_unregister_is_scoped(users):
    mona, omar = users(2)

    notifications.device_register(actor=mona, token="tok-1", platform="android")
    notifications.device_register(actor=omar, token="tok-1", platform="ios", language="en")
    notifications.device_unregister(actor=mona, token="tok-1")  # no longer hers: untouched

    assert list(PushDevice.objects.values_list("user_id", "platform", "language")) == [(omar.pk, "ios", "en")]


def test_an_offline_user_is_pushed_at_once(users, fake_fcm, django_capture_on_commit_callbacks):
    # given: no live socket
    author, mona = users(2)
    notifications.device_register(actor=author, token="tok-a", platform="android", language="en")
    Profile.objects.filter(user=mona).update(display_name="Mona")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        notification = _like(author, mona)
    queued = _queued(PUSH_TASK)
    tasks.notification_push_task(**queued[0]["kwargs"])

    # then
    assert [q["eta"] for q in queued] == [None]
    assert len(fake_fcm.sends) == 1
    sent = fake_fcm.sends[0]
    assert sent["path"] == "/v1/projects/daira-test/messages:send"
    assert sent["token"] == "tok-a"
    assert sent["notification"] == {"title": "DAIRA", "body": "Mona liked your post"}
    assert sent["data"]["notification_id"] == str(notification.pk)
    assert sent["android"]["collapse_key"] == f"like:post:1"
    assert fake_fcm.token_requests == 1  # a real OAuth exchange, answered by the fake Google


def test_an_online_user_is_pushed_later_only_if_still_unread(users, fake_fcm, django_capture_on_commit_callbacks):
    # given: author has a live socket
    author, mona, omar = users(3)
    notifications.device_register(actor=author, token="tok-a", platform="android")
    live.socket_add(author.pk, "channel-1")

    # when: two notifications; the author reads the first before the delayed check runs
    with django_capture_on_commit_callbacks(execute=True):
        read_one = _like(author, mona, post_id=1)
        unread_one = _like(author, omar, post_id=2)
    queued = _queued(PUSH_TASK)
    notifications.notification_mark_read(actor=author, notification_id=read_one.pk)
    for item in queued:
        tasks.notification_push_task(**item["kwargs"])

    # then: both were deferred, only the unread one was pushed
    assert len(queued) == 2
    assert all(item["eta"] is not None for item in queued)
    assert [s["data"]["notification_id"] for s in fake_fcm.sends] == [str(unread_one.pk)]


def test_a_bumped_group_pushes_once_for_its_latest_state(users, fake_fcm, django_capture_on_commit_callbacks):
    author, mona, omar = users(3)
    notifications.device_register(actor=author, token="tok-a", platform="android")
    with django_capture_on_commit_callbacks(execute=True):
        _like(author, mona)
    with django_capture_on_commit_callbacks(execute=True):
        _like(author, omar)

    for item in _queued(PUSH_TASK):
        tasks.notification_push_task(**item["kwargs"])

    assert len(fake_fcm.sends) == 1


def test_message_push_is_arabic_for_an_arabic_phone_and_collapses_per_conversation(users, fake_fcm):
    # given
    mona, omar = users(2)
    follow(omar, mona)
    Profile.objects.filter(user=mona).update(display_name="منى")
    notifications.device_register(actor=omar, token="tok-ar", platform="ios", language="ar")
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    first = services.message_send(actor=mona, conversation_id=conversation.pk, body="صباح الخير")
    tasks.message_notify_task(message_id=first.pk)

    # when
    notification = Notification.objects.get()
    notifications.notification_push(notification_id=notification.pk)

    # then
    sent = fake_fcm.sends[0]
    assert sent["notification"] == {"title": "دائرة", "body": "منى: صباح الخير"}
    assert sent["android"]["collapse_key"] == f"conversation:{conversation.pk}"
    assert sent["apns"]["headers"]["apns-collapse-id"] == f"conversation:{conversation.pk}"


def test_in_app_preference_never_pushes(users, fake_fcm):
    author, mona = users(2)
    notifications.device_register(actor=author, token="tok-a", platform="android")
    notifications.preference_set(actor=author, type="like", channel="in_app")
    notification = _like(author, mona)

    assert notifications.notification_push(notification_id=notification.pk) is None
    assert fake_fcm.sends == []


def test_tokens_the_provider_rejects_are_removed_and_others_kept(users, fake_fcm):
    # given: four phones, FCM answers differently for each
    author, mona = users(2)
    for token in ("tok-ok", "tok-unregistered", "tok-malformed", "tok-server-error"):
        notifications.device_register(actor=author, token=token, platform="android")
    fake_fcm.answers["tok-unregistered"] = (404, {"error": {"code": 404, "status": "NOT_FOUND", "details": [
        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}})
    fake_fcm.answers["tok-malformed"] = (400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
        "message": "The registration token is not a valid FCM registration token", "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}]}})
    fake_fcm.answers["tok-server-error"] = (500, {"error": {"code": 500, "status": "INTERNAL"}})
    notification = _like(author, mona)

    # when
    counts = notifications.notification_push(notification_id=notification.pk)

    # then
    assert counts == {"sent": 1, "invalid_token": 2, "failed": 1}
    assert sorted(PushDevice.objects.values_list("token", flat=True)) == ["tok-ok", "tok-server-error"]


def test_without_fcm_settings_the_console_gateway_only_logs(users, settings, caplog):
    from messaging import push

    settings.FCM_PROJECT_ID = ""
    settings.FCM_CREDENTIALS_FILE = ""
    push._gateway = None
    author, mona = users(2)
    notifications.device_register(actor=author, token="tok-a", platform="android")
    notification = _like(author, mona)

    with caplog.at_level("INFO", logger="messaging.push"):
        counts = notifications.notification_push(notification_id=notification.pk)

    assert counts == {"sent": 1, "invalid_token": 0, "failed": 0}
    assert [r.message for r in caplog.records if r.name == "messaging.push"] == ["push.console"]
