"""Social Celery tasks: thin, idempotent wrappers around services."""

from __future__ import annotations

from celery import shared_task

from social import services


@shared_task(acks_late=True)
def user_privacy_changed_task(user_id: int, is_private: bool, **_: object) -> int:
    """Subscribed to "user.privacy_changed": an account that turns public accepts every
    pending follow request (as on Instagram). Safe to run twice: accepted requests are
    gone, so a second run accepts nothing. Returns how many were accepted."""
    from accounts.models import User

    if is_private:
        return 0
    user = User.objects.filter(pk=user_id, is_private=False).first()
    if user is None:  # deleted, or private again before the worker ran
        return 0
    return services.follow_requests_accept_all(actor=user)
