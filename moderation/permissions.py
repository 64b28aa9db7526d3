"""The "moderator" group: decides cases in the admin, never edits rules, never browses
direct messages (a reported message is shown inside its case, nowhere else).

The data migration 0002 creates it; `ensure_moderator_group` is idempotent, so operators
(and tests whose database was flushed) can recreate it.
"""

from __future__ import annotations

MODERATOR_GROUP = "moderator"

# (app_label, codename). Rules, bad domains and restrictions: view only; editing them is
# for admins (superusers). No permission of messaging (or any other app) is granted.
MODERATOR_PERMISSIONS = [
    ("moderation", "view_case"),
    ("moderation", "decide_case"),
    ("moderation", "view_report"),
    ("moderation", "view_decision"),
    ("moderation", "view_appeal"),
    ("moderation", "change_appeal"),
    ("moderation", "view_auditlog"),
    ("moderation", "view_keywordrule"),
    ("moderation", "view_regexrule"),
    ("moderation", "view_baddomain"),
    ("moderation", "view_textflag"),
    ("moderation", "view_accountrestriction"),
    ("moderation", "add_accountrestriction"),
]


def ensure_moderator_group(apps=None):
    """Create or update the moderator group with exactly MODERATOR_PERMISSIONS."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrations (post_migrate); make sure ours exist.
    app_config = apps.get_app_config("moderation")
    # A migration's app registry has stub configs without models_module, which
    # create_permissions treats as "no models"; mark it for the call (the usual workaround).
    had_module = getattr(app_config, "models_module", None)
    app_config.models_module = had_module or True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = had_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=MODERATOR_GROUP)
    wanted = []
    for app_label, codename in MODERATOR_PERMISSIONS:
        wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    group.permissions.set(wanted)
    return group
