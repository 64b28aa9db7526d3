"""Re-embed every published post: `manage.py recs_reindex [--batch-size 64] [--restart]`.

Resumable: the last post id done is checkpointed in Redis after each batch, so a second run
continues where an interrupted one stopped (`--restart` starts over). Posts are walked in id
order; each batch goes through `services.items_embed` (one encoder call per batch)."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from content.models import Post
from daira.lib.redis import get_redis
from recommendations import services

CHECKPOINT_KEY = "recs:reindex:last_post_id"


class Command(BaseCommand):
    help = "Re-embed all published posts (content vectors), with a progress bar; resumable."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--restart", action="store_true", help="ignore the checkpoint and start from the first post")

    def handle(self, *args, **options):
        client = get_redis()
        if options["restart"]:
            client.delete(CHECKPOINT_KEY)
        after = int(client.get(CHECKPOINT_KEY) or 0)
        posts = Post.objects.filter(status=Post.Status.PUBLISHED, deleted_at__isnull=True, pk__gt=after)
        total = posts.count()
        written = 0
        with tqdm(total=total, desc="embedding", unit="post", file=self.stderr) as bar:
            while True:
                batch = list(posts.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[: options["batch_size"]])
                if not batch:
                    break
                written += services.items_embed(post_ids=batch)
                after = batch[-1]
                client.set(CHECKPOINT_KEY, after)
                bar.update(len(batch))
        client.delete(CHECKPOINT_KEY)
        self.stdout.write(f"{written} item vectors written")
