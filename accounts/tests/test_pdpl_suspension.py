import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from accounts import registry
from accounts.models import AuthEvent, DataExport, DeviceSession, Profile, User
from accounts.services import (
    data_export_build,
    profile_counts_add,
    user_suspend,
    user_unsuspend,
    users_purge_deactivated,
    users_suspensions_lift,
)
from accounts.tasks import data_export_build_task
from accounts.tests.factories import UserFactory, login_for

pytestmark = pytest.mark.django_db


def _zip_of(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_export_zip_contains_profile_settings_sessions_and_registered_sections(
    auth_client, api_client, django_capture_on_commit_callbacks, monkeypatch
):
    # given: a later app registered its section
    user = UserFactory(handle="mona", phone="+201012345678")
    Profile.objects.filter(user=user).update(bio="hello")

    def posts_section(u):
        return [{"id": "1", "author": u.handle, "body": "أول منشور"}]

    registry.register_export_section("test_notes", posts_section)
    queued = []
    monkeypatch.setattr(data_export_build_task, "delay", lambda export_id: queued.append(export_id))
    client = auth_client(user)
    try:
        # when: requested, built by the task, listed with its link
        with django_capture_on_commit_callbacks(execute=True):
            requested = client.post("/api/v1/me/exports")
        data_export_build_task(queued[0])
        listed = client.get("/api/v1/me/exports").json()["results"]
    finally:
        registry.unregister(posts_section)

    # then
    assert requested.status_code == 202
    assert requested.json()["status"] == "pending"
    assert queued == [int(requested.json()["id"])]
    assert listed[0]["status"] == "ready"
    link = listed[0]["download_url"]
    response = api_client.get(link.split("testserver")[-1].replace("http://127.0.0.1:8000", ""))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = _zip_of(response)
    # (other installed apps, e.g. social, add their own sections too)
    assert {"README.txt", "account.json", "passkeys.json", "test_notes.json", "profile.json", "security_events.json",
            "sessions.json", "settings.json"} <= set(archive.namelist())
    assert json.loads(archive.read("account.json"))["phone"] == "+201012345678"
    assert json.loads(archive.read("profile.json"))["bio"] == "hello"
    assert json.loads(archive.read("settings.json"))["data_saver"] is True
    assert len(json.loads(archive.read("sessions.json"))) == 1
    assert json.loads(archive.read("test_notes.json")) == [{"id": "1", "author": "mona", "body": "أول منشور"}]


def test_export_link_expires_and_cannot_be_forged(api_client, settings):
    user = UserFactory()
    export = DataExport.objects.create(user=user)
    export = data_export_build(export_id=export.pk)
    token = signing.TimestampSigner(salt="accounts.export").sign(str(export.pk))

    ok = api_client.get("/api/v1/me/exports/download", {"token": token})
    forged = api_client.get("/api/v1/me/exports/download", {"token": f"{export.pk}:abc:def"})
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = api_client.get("/api/v1/me/exports/download", {"token": token})

    assert ok.status_code == 200
    assert forged.status_code == 404
    assert expired.status_code == 410


def test_only_one_pending_export_at_a_time(auth_client, monkeypatch):
    monkeypatch.setattr(data_export_build_task, "delay", lambda export_id: None)
    client = auth_client(UserFactory())

    assert client.post("/api/v1/me/exports").status_code == 202
    assert client.post("/api/v1/me/exports").status_code == 409


def test_delete_account_deactivates_hides_and_revokes(auth_client, api_client, emitted_events,
                                                      django_capture_on_commit_callbacks):
    # given
    user = UserFactory(handle="mona")
    other_device = login_for(user).tokens
    client = auth_client(user)

    # when
    wrong = client.delete("/api/v1/me", {"password": "nope"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete("/api/v1/me", {"password": "correct-horse-battery"}, format="json")

    # then
    assert wrong.status_code == 400
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.status == User.Status.DEACTIVATED
    assert DeviceSession.objects.filter(user=user, revoked_at__isnull=True).exists() is False
    assert api_client.get("/api/v1/users/mona").status_code == 404
    assert client.get("/api/v1/me").status_code == 401
    assert api_client.post("/api/v1/auth/token/refresh", {"refresh": other_device.refresh},
                           format="json").status_code == 401
    assert ("user.deactivated", {"user_id": user.pk}) in emitted_events


def test_login_within_30_days_restores_the_account(api_client, emitted_events, django_capture_on_commit_callbacks):
    user = UserFactory(handle="mona", status=User.Status.DEACTIVATED,
                       deactivated_at=timezone.now() - timedelta(days=29))

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/login", {"identifier": "mona", "password": "correct-horse-battery"},
                                   format="json")

    assert response.status_code == 200
    assert response.json()["restored"] is True
    user.refresh_from_db()
    assert (user.status, user.deactivated_at) == (User.Status.ACTIVE, None)
    assert ("user.reactivated", {"user_id": user.pk}) in emitted_events
    assert api_client.get("/api/v1/users/mona").status_code == 200


def test_login_after_30_days_is_refused(api_client):
    user = UserFactory(handle="mona", status=User.Status.DEACTIVATED,
                       deactivated_at=timezone.now() - timedelta(days=31))

    response = api_client.post("/api/v1/auth/login", {"identifier": "mona", "password": "correct-horse-battery"},
                               format="json")

    assert response.status_code == 401
    user.refresh_from_db()
    assert user.status == User.Status.DEACTIVATED


def test_purge_removes_accounts_past_30_days_and_runs_deletion_hooks(emitted_events,
                                                                     django_capture_on_commit_callbacks):
    # given
    old = UserFactory(status=User.Status.DEACTIVATED, deactivated_at=timezone.now() - timedelta(days=31))
    recent = UserFactory(status=User.Status.DEACTIVATED, deactivated_at=timezone.now() - timedelta(days=5))
    active = UserFactory()
    login_for(old)
    seen = []

    def hook(user):
        seen.append(user.pk)

    registry.register_deletion_hook(hook)
    try:
        # when
        with django_capture_on_commit_callbacks(execute=True):
            purged = users_purge_deactivated()
    finally:
        registry.unregister(hook)

    # then
    assert purged == 1
    assert seen == [old.pk]
    assert set(User.objects.values_list("pk", flat=True)) == {recent.pk, active.pk}
    assert DeviceSession.objects.filter(user_id=old.pk).exists() is False
    assert ("user.purged", {"user_id": old.pk}) in emitted_events
    assert users_purge_deactivated() == 0


def test_suspend_revokes_sessions_and_refuses_login(api_client, emitted_events, django_capture_on_commit_callbacks):
    # given
    moderator = UserFactory(is_staff=True)
    user = UserFactory(handle="mona")
    tokens = login_for(user).tokens
    until = timezone.now() + timedelta(days=3)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        user_suspend(user=user, actor=moderator, reason="spam", until=until)

    # then
    user.refresh_from_db()
    assert (user.status, user.suspended_until, user.suspension_reason) == (User.Status.SUSPENDED, until, "spam")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
    assert api_client.get("/api/v1/me").status_code == 401
    api_client.credentials()
    login = api_client.post("/api/v1/auth/login", {"identifier": "mona", "password": "correct-horse-battery"},
                            format="json")
    assert login.status_code == 403
    assert login.json()["error"]["code"] == "account_suspended"
    assert login.json()["error"]["suspended_until"] == until.isoformat()
    event = AuthEvent.objects.get(user=user, kind="suspended")
    assert (event.actor, event.data["reason"]) == (moderator, "spam")
    assert ("user.suspended", {"user_id": user.pk, "until": until.isoformat()}) in emitted_events
    assert api_client.get("/api/v1/users/mona").status_code == 404


def test_expired_suspensions_are_lifted_by_the_beat_task():
    ends_soon = UserFactory()
    indefinite = UserFactory()
    user_suspend(user=ends_soon, actor=None, reason="cool down", until=timezone.now() + timedelta(hours=1))
    user_suspend(user=indefinite, actor=None, reason="fraud")

    lifted = users_suspensions_lift(now=timezone.now() + timedelta(hours=2))

    assert lifted == 1
    ends_soon.refresh_from_db()
    indefinite.refresh_from_db()
    assert (ends_soon.status, indefinite.status) == (User.Status.ACTIVE, User.Status.SUSPENDED)
    user_unsuspend(user=indefinite, actor=None, reason="appeal")
    indefinite.refresh_from_db()
    assert indefinite.status == User.Status.ACTIVE


def test_profile_counts_add_is_atomic_and_never_negative():
    user = UserFactory()

    profile_counts_add(user_id=user.pk, followers=2, posts=1)
    profile_counts_add(user_id=user.pk, followers=-5, following=1)

    profile = Profile.objects.get(user=user)
    assert (profile.followers_count, profile.following_count, profile.friends_count, profile.posts_count) == (
        0, 1, 0, 1)


def test_password_change_revokes_other_sessions(auth_client, api_client):
    user = UserFactory()
    other = login_for(user).tokens
    client = auth_client(user)

    response = client.post("/api/v1/me/password", {"current_password": "correct-horse-battery",
                                                   "new_password": "another long passphrase"}, format="json")

    assert response.json() == {"sessions_revoked": 1}
    assert client.get("/api/v1/me").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other.access}")
    assert api_client.get("/api/v1/me").status_code == 401
    user.refresh_from_db()
    assert user.check_password("another long passphrase")
    assert AuthEvent.objects.filter(user=user, kind="password_changed").count() == 1
