"""Fixtures for moderation tests.

Moderation sits below content and messaging and never imports them (DESIGN.md), and its
tests do not depend on them either: `stand_in_targets` points the "post" and "message"
target types at lower models of the same shape (an owner and a text): a Profile (owner
user, text bio) stands in for a post, a social Circle (owner, name) for a direct message,
with a participant-only access check like messaging's. Moderation resolves targets by app
label at runtime, so this exercises exactly the code real targets go through.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from moderation import targets
from moderation.permissions import ensure_moderator_group
from social.models import Circle


def circle_member_check(*, user, obj) -> bool:
    return obj.owner_id == user.pk or obj.memberships.filter(member=user).exists()


@pytest.fixture
def stand_in_targets(monkeypatch):
    monkeypatch.setitem(
        targets._TYPES, "post", targets.TargetType("post", "accounts.Profile", ("user_id",), text_fields=("bio",))
    )
    monkeypatch.setitem(
        targets._TYPES,
        "message",
        targets.TargetType(
            "message", "social.Circle", ("owner_id",), private=True, text_fields=("name",),
            access_check=circle_member_check,
        ),
    )
    return targets._TYPES


@pytest.fixture
def established():
    """`established(**fields)` → a user whose account is 30 days old (not "new")."""

    def make(**fields):
        return UserFactory(date_joined=timezone.now() - timedelta(days=30), **fields)

    return make


@pytest.fixture
def moderator(db):
    # The group comes from data migration 0002; ensure it again because a live-server
    # (transactional) test flushes the tables, data migrations included.
    group = ensure_moderator_group()
    user = UserFactory(handle="mod_mona", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(handle="root_rami", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_without_group(db):
    return UserFactory(handle="staff_sami", is_staff=True)


@pytest.fixture
def post_of(stand_in_targets):
    """`post_of(user, text)` → the stand-in post (the user's Profile with `text` as bio)."""

    def make(user, text="hello"):
        profile = user.profile
        profile.bio = text
        profile.save(update_fields=["bio"])
        return profile

    return make


@pytest.fixture
def message_of(stand_in_targets):
    """`message_of(sender, text, members=())` → the stand-in direct message."""

    def make(sender, text="hi", members=()):
        circle = Circle.objects.create(owner=sender, name=text[:50])
        for member in members:
            circle.memberships.create(member=member)
        return circle

    return make


