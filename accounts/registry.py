"""Plug-in points that higher apps register into (accounts never imports them).

Registrations happen in each app's `AppConfig.ready()`:

    from accounts import registry
    registry.register_export_section("posts", lambda user: [...])
    registry.register_profile_extra(lambda viewer, user: {"is_following": ...})
    registry.register_profile_access_check(lambda viewer, user: not blocked_either_way(viewer, user))
    registry.register_deletion_hook(lambda user: ...)

`viewer` is the requesting User, or None for an anonymous request. Registering the same
callable twice (e.g. `ready()` run again in tests) is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ExportBuilder = Callable[[Any], Any]
ProfileExtra = Callable[[Any, Any], dict]
ProfileAccessCheck = Callable[[Any, Any], bool]
DeletionHook = Callable[[Any], None]

_export_sections: dict[str, ExportBuilder] = {}
_profile_extras: list[ProfileExtra] = []
_profile_access_checks: list[ProfileAccessCheck] = []
_deletion_hooks: list[DeletionHook] = []

# Section names accounts itself writes into the export zip.
RESERVED_EXPORT_SECTIONS = frozenset({"account", "profile", "settings", "sessions", "security_events", "passkeys"})


def register_export_section(name: str, builder: ExportBuilder) -> None:
    """Add `<name>.json` to every data export; `builder(user)` returns JSON-able data.

    Raises ValueError when the name is taken by accounts or by another builder."""
    if name in RESERVED_EXPORT_SECTIONS:
        raise ValueError(f"Export section {name!r} is reserved by accounts.")
    existing = _export_sections.get(name)
    if existing is not None and existing is not builder:
        raise ValueError(f"Export section {name!r} is already registered.")
    _export_sections[name] = builder


def register_profile_extra(builder: ProfileExtra) -> None:
    """`builder(viewer, user)` returns extra fields merged into the public profile output."""
    if builder not in _profile_extras:
        _profile_extras.append(builder)


def register_profile_access_check(check: ProfileAccessCheck) -> None:
    """`check(viewer, user)`: when any check returns False, the profile is a 404 to `viewer`."""
    if check not in _profile_access_checks:
        _profile_access_checks.append(check)


def register_deletion_hook(hook: DeletionHook) -> None:
    """`hook(user)` runs inside the purge transaction, before the user row is deleted."""
    if hook not in _deletion_hooks:
        _deletion_hooks.append(hook)


def export_sections() -> dict[str, ExportBuilder]:
    return dict(_export_sections)


def profile_extras() -> list[ProfileExtra]:
    return list(_profile_extras)


def profile_access_checks() -> list[ProfileAccessCheck]:
    return list(_profile_access_checks)


def deletion_hooks() -> list[DeletionHook]:
    return list(_deletion_hooks)


def unregister(item: Any) -> None:
    """Remove a registered callable (tests that register temporary plug-ins)."""
    for name, builder in list(_export_sections.items()):
        if builder is item:
            del _export_sections[name]
    for registry in (_profile_extras, _profile_access_checks, _deletion_hooks):
        if item in registry:
            registry.remove(item)
