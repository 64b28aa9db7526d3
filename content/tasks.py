"""Content tasks: thin, idempotent wrappers around services (at-least-once delivery).

Subscribed in daira/lib/events.py to media and moderation events; beat runs the view
flush and the story purge (daira/celery.py).
"""

from __future__ import annotations

from celery import shared_task

from content import services


@shared_task(acks_late=True)
def media_ready_task(asset_id: int, owner_id: int | None = None, kind: str | None = None, **_: object) -> list[int]:
    return services.posts_media_ready(asset_id=asset_id)


@shared_task(acks_late=True)
def media_failed_task(asset_id: int, owner_id: int | None = None, kind: str | None = None, **_: object) -> list[int]:
    return services.posts_media_failed(asset_id=asset_id)


@shared_task(acks_late=True)
def media_audio_extracted_task(asset_id: int, owner_id: int | None = None, **_: object) -> int | None:
    sound = services.sound_from_video(asset_id=asset_id)
    return sound.pk if sound else None


@shared_task(acks_late=True)
def moderation_target_hidden_task(content_type: str, object_id: int, **_: object) -> bool:
    return services.moderation_hide(content_type=content_type, object_id=object_id)


@shared_task(acks_late=True)
def moderation_decided_task(
    target_app_label: str, target_model: str, target_id: int, decision: str, **_: object
) -> bool:
    return services.moderation_apply(
        target_app_label=target_app_label, target_model=target_model, target_id=target_id, decision=decision
    )


@shared_task(acks_late=True)
def post_views_flush_task() -> int:
    return services.post_views_flush()


@shared_task(acks_late=True)
def stories_purge_expired_task() -> int:
    return services.stories_purge_expired()
