"""Rebuild home feeds from Postgres: `manage.py feeds_rebuild --user <handle|id>` or `--all`
(every active user seen within FEED_ACTIVE_DAYS; `--include-inactive` for everyone)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from feeds import services


class Command(BaseCommand):
    help = "Rebuild home feeds in Redis from Postgres (with a progress bar)."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--user", help="handle or id of one user")
        target.add_argument("--all", action="store_true", help="every recently active user")
        parser.add_argument("--include-inactive", action="store_true", help="with --all: every active account")

    def handle(self, *args, **options):
        if options["user"]:
            value = options["user"]
            user = User.objects.filter(pk=int(value)).first() if value.isdigit() else None
            user = user or User.objects.filter(handle=value.lower().lstrip("@")).first()
            if user is None:
                raise CommandError(f"No user {value!r}.")
            written = services.home_feed_rebuild(user_id=user.pk, force=True)
            self.stdout.write(f"rebuilt feed of {user.handle}: {written} entries")
            return
        users = User.objects.filter(status=User.Status.ACTIVE)
        if not options["include_inactive"]:
            users = users.filter(last_active_at__gte=services.active_since())
        ids = users.order_by("pk").values_list("pk", flat=True)
        total = 0
        busy = 0
        for user_id in tqdm(ids.iterator(chunk_size=2_000), total=ids.count(), unit="feed", file=self.stderr):
            written = services.home_feed_rebuild(user_id=user_id, force=True)
            if written is None:
                busy += 1
            else:
                total += written
        self.stdout.write(f"rebuilt {ids.count() - busy} feeds ({total} entries); {busy} were being rebuilt already")
