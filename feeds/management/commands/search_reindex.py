"""Rebuild the search index from the source tables: `manage.py search_reindex [--kind user|hashtag|post|sound]`."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from feeds import search, services
from feeds.models import SearchKind


class Command(BaseCommand):
    help = "Reindex users, hashtags, posts and sounds in the configured search backend."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=SearchKind.values, action="append",
                            help="only this kind (repeatable); default all")
        parser.add_argument("--batch-size", type=int, default=2_000)

    def handle(self, *args, **options):
        backend = search.get_backend()
        if isinstance(backend, search.MeilisearchBackend):
            backend.setup()
        for kind in options["kind"] or SearchKind.values:
            with tqdm(desc=kind, unit="doc", file=self.stderr) as bar:
                written = services.search_reindex_all(kind=kind, batch_size=options["batch_size"], progress=bar.update)
            self.stdout.write(f"{kind}: {written} documents ({backend.name})")
