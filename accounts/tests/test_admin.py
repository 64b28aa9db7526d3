import pytest

from accounts.models import AuthEvent, DeviceSession, User
from accounts.tests.factories import UserFactory, login_for

pytestmark = pytest.mark.django_db


def test_admin_searches_users_by_handle_phone_and_email(admin_client):
    UserFactory(handle="mona", phone="+201012345678", email="mona@example.com")
    UserFactory(handle="omar")

    for term in ("mona", "+20101234", "mona@example"):
        response = admin_client.get("/admin/accounts/user/", {"q": term})

        assert response.status_code == 200
        assert [u.handle for u in response.context["cl"].result_list] == ["mona"]


def test_admin_user_page_shows_sessions_and_audit_log(admin_client):
    user = UserFactory(handle="mona")
    login_for(user, device_name="Galaxy A54")

    response = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")

    assert response.status_code == 200
    assert b"Galaxy A54" in response.content
    assert b"Logged in" in response.content


def test_admin_suspend_action_calls_the_service(admin_client, admin_user):
    user = UserFactory(handle="mona")
    tokens = login_for(user).tokens

    response = admin_client.post("/admin/accounts/user/", {"action": "suspend_7_days", "_selected_action": [user.pk]})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.status == User.Status.SUSPENDED
    assert user.suspended_until is not None
    assert AuthEvent.objects.get(user=user, kind="suspended").actor == admin_user
    assert DeviceSession.objects.get(pk=tokens.session_id).revoked_reason == "suspended"
