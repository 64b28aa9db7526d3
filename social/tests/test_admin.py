"""Admin screens load, search by handle, and their actions go through the services."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Profile, User
from accounts.tests.factories import UserFactory
from social import services
from social.models import AccountFlag, Follow

pytestmark = pytest.mark.django_db

MODELS = ("follow", "followrequest", "friendrequest", "friendship", "closefriend", "circle", "circlemember", "block", "mute", "accountflag")


@pytest.fixture
def admin_client_() -> Client:
    admin = User.objects.create_superuser("root", "pw-root-123456")
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_changelists_load_and_search_by_handle(admin_client_, model):
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)
    services.shadowban_set(user_id=bob.pk, active=True)

    response = admin_client_.get(f"/admin/social/{model}/", {"q": f"@{alice.handle}"})

    assert response.status_code == 200


def test_remove_follows_action_keeps_counts_exact(admin_client_):
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)
    follow = Follow.objects.get()

    response = admin_client_.post(
        "/admin/social/follow/", {"action": "remove_follows", "_selected_action": [str(follow.pk)]}
    )

    assert response.status_code == 302
    assert Follow.objects.exists() is False
    assert Profile.objects.get(user=bob).followers_count == 0


def test_shadowban_actions_call_the_service(admin_client_):
    user = UserFactory()
    services.shadowban_set(user_id=user.pk, active=True)

    admin_client_.post("/admin/social/accountflag/", {"action": "lift_shadowban", "_selected_action": [str(user.pk)]})

    assert AccountFlag.objects.get(user=user).shadowbanned is False
