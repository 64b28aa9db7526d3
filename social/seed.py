"""Demo data for `manage.py seed_demo` (idempotent: services are idempotent)."""

from __future__ import annotations


def seed_social() -> None:
    """mona ↔ omar friends, everyone follows layla, mona has a close friend and a circle."""
    from accounts.models import User
    from social import services

    users = {u.handle: u for u in User.objects.filter(handle__in=["mona", "omar", "layla"])}
    if len(users) < 3:
        return
    mona, omar, layla = users["mona"], users["omar"], users["layla"]
    for fan in (mona, omar):
        services.follow_create(actor=fan, target=layla)
    services.follow_create(actor=omar, target=mona)
    services.friend_request_create(actor=mona, target=omar)
    services.friend_request_accept(actor=omar, from_user=mona)
    services.close_friend_add(actor=mona, member=omar)
    from social.models import Circle

    circle = Circle.objects.filter(owner=mona, name__iexact="Family").first() or services.circle_create(
        actor=mona, name="Family"
    )
    services.circle_members_add(actor=mona, circle_id=circle.pk, user_ids=[omar.pk])
