"""What can be reported: target type names resolved to models at runtime.

Moderation must not import content or messaging (DESIGN.md), so a target type names its
model by app label ("content.post") and is looked up through the app registry when a
report arrives. A type whose app is not installed is simply not reportable yet.

Higher apps may register an access check for their type in their AppConfig.ready():

    from moderation import targets
    targets.access_check_set("message", lambda *, user, obj: obj.conversation.has_member(user))

A reporter must be able to see what they report; otherwise anyone could pull a stranger's
direct message in front of moderators by guessing its id. Types marked `private` (messages)
are therefore refused until their app registers a check (fail closed); public types
without a check are reportable by anyone who has the id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models

from daira.lib.errors import Invalid, NotFound

AccessCheck = Callable[..., bool]


@dataclass
class TargetType:
    name: str
    model: str  # "app_label.ModelName"
    owner_fields: tuple[str, ...]  # first attribute found names the owning user ("pk" for users)
    private: bool = False
    text_fields: tuple[str, ...] = ("body", "text", "caption", "bio")
    access_check: AccessCheck | None = field(default=None, repr=False)


_TYPES: dict[str, TargetType] = {
    "profile": TargetType("profile", "accounts.User", ("pk",), text_fields=("handle",)),
    "post": TargetType("post", "content.Post", ("author_id", "user_id", "owner_id")),
    "comment": TargetType("comment", "content.Comment", ("author_id", "user_id", "owner_id")),
    "story": TargetType("story", "content.Story", ("author_id", "user_id", "owner_id")),
    "message": TargetType("message", "messaging.Message", ("sender_id", "author_id", "user_id"), private=True),
}

TARGET_TYPE_NAMES = tuple(_TYPES)


def target_type_get(name: str) -> TargetType:
    try:
        return _TYPES[name]
    except KeyError:
        raise Invalid(f"Unknown target type {name!r}.", field="target_type") from None


def access_check_set(name: str, check: AccessCheck | None) -> None:
    """Register (or with None, remove) `check(*, user, obj) -> bool` for target type `name`."""
    target_type_get(name).access_check = check


def model_for(target_type: TargetType) -> type[models.Model] | None:
    app_label, model_name = target_type.model.split(".")
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def owner_id_of(target_type: TargetType, obj: models.Model) -> int | None:
    for name in target_type.owner_fields:
        value = getattr(obj, name, None)
        if value is not None:
            return int(value)
    return None


def text_of(target_type: TargetType, obj: models.Model) -> str:
    """The user-written text of a target, for the reviewer's preview."""
    for name in target_type.text_fields:
        value = getattr(obj, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


@dataclass
class ResolvedTarget:
    type: TargetType
    content_type: ContentType
    obj: Any
    owner_id: int | None


def resolve(*, target_type: str, target_id: int, viewer=None) -> ResolvedTarget:
    """Find the target; raise Invalid for an unknown/unavailable type, NotFound for a missing
    object or one `viewer` may not see (the two look the same on purpose)."""
    kind = target_type_get(target_type)
    model = model_for(kind)
    if model is None:
        raise Invalid(f"{target_type} targets cannot be reported yet.", field="target_type")
    if kind.private and kind.access_check is None and viewer is not None:
        raise Invalid(f"{target_type} targets cannot be reported yet.", field="target_type")
    obj = model._default_manager.filter(pk=target_id).first()
    if obj is None:
        raise NotFound("The reported item does not exist.")
    if viewer is not None and kind.access_check is not None and not kind.access_check(user=viewer, obj=obj):
        raise NotFound("The reported item does not exist.")
    return ResolvedTarget(
        type=kind, content_type=ContentType.objects.get_for_model(model), obj=obj, owner_id=owner_id_of(kind, obj)
    )
