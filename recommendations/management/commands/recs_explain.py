"""Why a post would or would not be shown to a user in For-You: `manage.py recs_explain <handle|id> <post_id>`."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from recommendations import selectors


class Command(BaseCommand):
    help = "Explain the For-You decision for one user and one post (filters, similarity, score parts)."

    def add_arguments(self, parser):
        parser.add_argument("user", help="handle or numeric id")
        parser.add_argument("post_id", type=int)

    def handle(self, *args, **options):
        ref = options["user"].lstrip("@")
        user = User.objects.filter(pk=int(ref)).first() if ref.isdigit() else User.objects.filter(handle=ref.lower()).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        info = selectors.explain(user=user, post_id=options["post_id"])
        write = self.stdout.write
        write(f"post {info['post_id']} for @{user.handle}: shown: {'yes' if info['shown'] else 'no'}")
        for reason in info["blocked_by"]:
            write(f"  filtered: {reason}")
        if "has_vector" not in info:
            return
        write(f"  vector: {info['vector_source'] or 'none'}")
        for interest in info["interests"]:
            write(f"  interest {interest['slot']}: {interest['label'] or '(learned)'} weight {interest['weight']:.1f}")
        similarity = info["similarity"]
        write(f"  similarity: {similarity:.3f} (interest {info['nearest_interest']})" if similarity is not None
              else "  similarity: n/a (no vector or no interests)")
        write(f"  recency: {info['recency']:.3f}  engagement: {info['engagement']:.3f}  "
              f"score before diversity: {info['score_without_diversity']:.3f}")
        position = info["position_in_cached_feed"]
        write(f"  position in the cached feed: {position if position is not None else 'not in it'}")
