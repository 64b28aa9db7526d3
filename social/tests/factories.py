"""Test data for social: build relations directly (services are tested separately)."""

from __future__ import annotations

import factory

from accounts.tests.factories import UserFactory
from social.models import Block, Circle, CircleMember, CloseFriend, Follow, Friendship, Mute


class FollowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Follow

    follower = factory.SubFactory(UserFactory)
    followee = factory.SubFactory(UserFactory)


class CircleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Circle

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"circle {n}")


def make_friends(a, b) -> None:
    Friendship.objects.create(user=a, friend=b)
    Friendship.objects.create(user=b, friend=a)


def add_close_friend(owner, member) -> None:
    CloseFriend.objects.create(owner=owner, member=member)


def add_to_circle(circle, member) -> None:
    CircleMember.objects.create(circle=circle, member=member)


def block(blocker, blocked) -> None:
    Block.objects.create(blocker=blocker, blocked=blocked)


def mute(muter, muted, *, posts=True, stories=True) -> None:
    Mute.objects.create(muter=muter, muted=muted, posts=posts, stories=stories)
