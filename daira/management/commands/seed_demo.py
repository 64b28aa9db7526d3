"""`manage.py seed_demo`: a demo admin and demo users. Idempotent: safe to run on every start.

Apps add their own demo data by registering a step in SEED_STEPS (later issues).
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

DEMO_ADMIN = ("admin", "daira-admin-demo")
DEMO_PASSWORD = "daira-demo-pass"
DEMO_USERS = [
    ("mona", "+201001234567", "mona@example.com"),
    ("omar", "+201101234567", "omar@example.com"),
    ("layla", "+201201234567", "layla@example.com"),
]


def seed_admin() -> None:
    from accounts.models import User

    handle, password = DEMO_ADMIN
    if not User.objects.filter(handle=handle).exists():
        User.objects.create_superuser(handle, password, email="admin@example.com")


def seed_users() -> None:
    from accounts.models import User

    for handle, phone, email in DEMO_USERS:
        if not User.objects.filter(handle=handle).exists():
            User.objects.create_user(handle, DEMO_PASSWORD, phone=phone, email=email)


def seed_profiles() -> None:
    from accounts.seed import seed_profiles as step

    step()


def seed_social() -> None:
    from social.seed import seed_social as step

    step()


SEED_STEPS = [("demo admin", seed_admin), ("demo users", seed_users), ("demo profiles", seed_profiles), ("social graph", seed_social)]


def seed_moderation() -> None:
    from moderation.seed import seed_moderation as step

    step()


SEED_STEPS.append(("moderation", seed_moderation))


def seed_content() -> None:
    from content.seed import seed_content as step

    step()


SEED_STEPS.append(("content", seed_content))


class Command(BaseCommand):
    help = "Create the demo admin and demo data (idempotent)."

    def handle(self, *args, **options):
        for label, step in tqdm(SEED_STEPS, desc="seed_demo", unit="step"):
            with transaction.atomic():
                step()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
