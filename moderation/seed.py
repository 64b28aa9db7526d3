"""Demo moderation data for `manage.py seed_demo` (idempotent): a demo moderator in the
"moderator" group, a few example rules and a bad domain, so the review queue can be tried."""

from __future__ import annotations

DEMO_MODERATOR = "moderator"
DEMO_RULES = [
    # (term, language, severity, action)
    ("حمار", "ar", 2, "hold"),
    ("spam", "en", 1, "flag"),
    ("كازينو", "ar", 3, "hold"),
]
DEMO_BAD_DOMAINS = ["scam.example"]


def seed_moderation() -> None:
    from accounts.models import User
    from daira.management.commands.seed_demo import DEMO_PASSWORD
    from moderation.models import BadDomain, KeywordRule
    from moderation.permissions import ensure_moderator_group

    group = ensure_moderator_group()
    moderator = User.objects.filter(handle=DEMO_MODERATOR).first()
    if moderator is None:
        moderator = User.objects.create_user(DEMO_MODERATOR, DEMO_PASSWORD, is_staff=True)
    moderator.groups.add(group)
    for term, language, severity, action in DEMO_RULES:
        if not KeywordRule.objects.filter(term=term).exists():
            KeywordRule.objects.create(term=term, language=language, severity=severity, action=action,
                                       note="demo rule")
    for domain in DEMO_BAD_DOMAINS:
        BadDomain.objects.get_or_create(domain=domain, defaults={"note": "demo"})
