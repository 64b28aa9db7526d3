"""Demo content for `manage.py seed_demo`: a few posts, a thread, comments and reactions by
the demo users, made through the services (so counters, hashtags and events are real).
Idempotent: does nothing once the demo users have posts. Text only: media needs uploads."""

from __future__ import annotations


def seed_content() -> None:
    from accounts.models import User
    from content import services
    from content.models import Post

    users = {u.handle: u for u in User.objects.filter(handle__in=["mona", "omar", "layla"])}
    if len(users) < 3 or Post.objects.filter(author__in=users.values()).exists():
        return
    mona, omar, layla = users["mona"], users["omar"], users["layla"]
    hello = services.post_create(author=mona, body="صباح الخير يا #القاهرة ☀️ @omar", audience="public")
    services.post_create(author=mona, body="A thread on the best koshary in #Cairo 🧵", parent_id=hello.pk)
    quote = services.post_create(author=omar, body="100% #مصر", quote_of_id=hello.pk)
    services.post_create(author=layla, body="Friday walk by the Nile #النيل", audience="public")
    services.comment_create(actor=omar, post_id=hello.pk, body="صباح النور!")
    services.comment_create(actor=layla, post_id=hello.pk, body="Good morning 😍")
    for user, reaction in ((omar, "love"), (layla, "fire")):
        services.reaction_set(actor=user, target_type="post", target_id=hello.pk, reaction=reaction)
    services.reaction_set(actor=mona, target_type="post", target_id=quote.pk, reaction="clap")
    services.repost_create(actor=layla, post_id=hello.pk)
    services.bookmark_add(actor=layla, post_id=quote.pk)
