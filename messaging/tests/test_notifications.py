"""The activity inbox: grouping, preferences, blocks and mutes, read state, pagination,
and the event handlers subscribed in daira/lib/events.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Profile
from daira.lib import events
from daira.lib.errors import Invalid, NotFound
from messaging import live, notifications, selectors, services, tasks
from messaging.models import Change, Notification
from messaging.tests.conftest import follow
from social import services as social_services
from social.models import Mute
from social.tests.factories import block

pytestmark = pytest.mark.django_db


def _like(recipient, actor, post_id=10):
    return notifications.notification_record(recipient_id=recipient.pk, type="like", actor_id=actor.pk,
                                             target_type="post", target_id=post_id)


def test_likes_on_one_post_are_grouped_with_a_count_and_text(users):
    # given
    author, mona, *others = users(14)
    Profile.objects.filter(user=mona).update(display_name="Mona")
    Profile.objects.filter(user=author).update(language="en")

    # when: 12 people like the post, then Mona, then Mona again
    for person in others:
        _like(author, person)
    _like(author, mona)
    _like(author, mona)

    # then
    notification = Notification.objects.get()
    assert notification.actor_count == 13
    assert notification.last_actor_id == mona.pk
    rendered = selectors.notifications_render(viewer=author, rows=[notification])[0]
    assert rendered["text"] == "Mona and 12 others liked your post"
    assert Change.objects.filter(event="notification.created").count() == 13


def test_arabic_text_for_arabic_speakers(users):
    author, mona, omar = users(3)
    Profile.objects.filter(user=mona).update(display_name="منى")
    _like(author, omar)
    _like(author, mona)

    text = selectors.notifications_render(viewer=author, rows=list(Notification.objects.all()))[0]["text"]

    assert text == "أعجب منى و1 آخرون منشورك"


def test_a_different_target_or_an_old_group_starts_a_new_group(users, settings):
    author, mona, omar = users(3)
    _like(author, mona, post_id=1)
    _like(author, omar, post_id=2)
    Notification.objects.filter(target_id=1).update(created_at=timezone.now() - timedelta(days=2))
    _like(author, omar, post_id=1)

    assert Notification.objects.count() == 3


def test_a_new_actor_bumps_the_group_to_the_top_and_makes_it_unread(users):
    author, mona, omar, sara = users(4)
    old = _like(author, mona, post_id=1)
    notifications.notification_record(recipient_id=author.pk, type="follow", actor_id=omar.pk,
                                      target_type="user", target_id=author.pk)
    notifications.notifications_mark_all_read(actor=author)

    _like(author, sara, post_id=1)

    page = selectors.notification_list(viewer=author, cursor=None, limit=10)
    assert [n.pk for n in page.items][0] == old.pk
    assert notifications.unread_count(user_id=author.pk) == 1


def test_nothing_from_blocked_or_muted_accounts(users):
    author, blocked_one, muted_one, blocker = users(4)
    block(author, blocked_one)
    block(blocker, author)
    Mute.objects.create(muter=author, muted=muted_one)

    assert _like(author, blocked_one) is None
    assert _like(author, muted_one) is None
    assert _like(author, blocker) is None
    assert Notification.objects.exists() is False


def test_a_later_block_hides_existing_notifications(users):
    author, mona = users(2)
    _like(author, mona)

    block(author, mona)

    assert selectors.notification_list(viewer=author, cursor=None, limit=10).items == []


def test_preferences_off_records_nothing_and_in_app_records_without_push(users):
    author, mona = users(2)

    notifications.preference_set(actor=author, type="like", channel="off")
    assert _like(author, mona) is None
    notifications.preference_set(actor=author, type="like", channel="in_app")
    assert _like(author, mona) is not None
    with pytest.raises(Invalid):
        notifications.preference_set(actor=author, type="like", channel="sms")

    assert notifications.preferences_get(user=author)["like"] == "in_app"
    assert notifications.preferences_get(user=author)["follow"] == "push"


def test_mark_one_and_all_read(users):
    author, mona, omar = users(3)
    first = _like(author, mona, post_id=1)
    _like(author, omar, post_id=2)

    notifications.notification_mark_read(actor=author, notification_id=first.pk)
    assert notifications.unread_count(user_id=author.pk) == 1
    with pytest.raises(NotFound):
        notifications.notification_mark_read(actor=mona, notification_id=first.pk)
    assert notifications.notifications_mark_all_read(actor=author) == 1

    assert notifications.unread_count(user_id=author.pk) == 0


def test_inbox_cursor_pagination(users):
    author, *people = users(4)
    made = [_like(author, person, post_id=i) for i, person in enumerate(people)]

    first = selectors.notification_list(viewer=author, cursor=None, limit=2)
    second = selectors.notification_list(viewer=author, cursor=first.next_cursor, limit=2)

    assert [n.pk for n in first.items] == [made[2].pk, made[1].pk]
    assert [n.pk for n in second.items] == [made[0].pk]
    assert second.next_cursor is None


def test_social_events_reach_the_inbox_through_the_routing_table(users, django_capture_on_commit_callbacks,
                                                                   emitted_events):
    # given
    mona, omar = users(2)
    assert "messaging.tasks.follow_notify_task" in events.ROUTES["follow.created"]

    # when: the real social service emits, and the routed task runs (as a worker would)
    with django_capture_on_commit_callbacks(execute=True):
        social_services.follow_create(actor=omar, target=mona)
    for name, payload in emitted_events:
        if name == "follow.created":
            tasks.follow_notify_task(**payload)

    # then
    notification = Notification.objects.get()
    assert (notification.recipient_id, notification.type, notification.last_actor_id) == (mona.pk, "follow", omar.pk)


@pytest.mark.parametrize(
    "task, payload, expected",
    [
        ("comment_notify_task", {"comment_id": 5, "post_id": 9, "author_id": "A", "post_author_id": "R",
                                 "parent_id": None, "parent_author_id": None}, ("comment", "post", 9)),
        ("reaction_notify_task", {"target_type": "comment", "target_id": 7, "user_id": "A", "owner_id": "R",
                                  "reaction": "like"}, ("like", "comment", 7)),
        ("repost_notify_task", {"post_id": 3, "user_id": "A", "author_id": "R"}, ("repost", "post", 3)),
        ("quote_notify_task", {"post_id": 4, "author_id": "A", "quoted_post_id": 2, "quoted_author_id": "R"},
         ("quote", "post", 2)),
        ("mention_notify_task", {"mention_id": 1, "target_type": "story", "target_id": 8, "author_id": "A",
                                 "mentioned_id": "R"}, ("mention", "story", 8)),
        ("follow_request_notify_task", {"requester_id": "A", "target_id": "R"}, ("follow_request", "user", "A")),
        ("follow_accepted_notify_task", {"requester_id": "R", "target_id": "A"}, ("follow_accepted", "user", "A")),
        ("friend_request_notify_task", {"from_user_id": "A", "to_user_id": "R"}, ("friend_request", "user", "A")),
        ("moderation_notify_task", {"user_id": "R", "kind": "decision", "decision_id": 6, "decision": "remove"},
         ("moderation", "decision", 6)),
    ],
)
def test_each_event_handler_records_the_right_notification(users, task, payload, expected):
    recipient, actor = users(2)
    ids = {"A": actor.pk, "R": recipient.pk}
    payload = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}

    getattr(tasks, task)(**payload)

    notification = Notification.objects.get()
    kind, target_type, target_id = expected
    assert notification.recipient_id == recipient.pk
    assert (notification.type, notification.target_type, notification.target_id) == (
        kind, target_type, ids.get(target_id, target_id)
    )


def test_a_new_message_notifies_only_recipients_without_the_conversation_open(users):
    mona, omar, sara = users(3)
    follow(omar, mona)
    follow(sara, mona)
    group = services.conversation_group_create(actor=mona, name="G", member_ids=[omar.pk, sara.pk])
    live.conversation_open(sara.pk, group.pk)
    first = services.message_send(actor=mona, conversation_id=group.pk, body="dinner?")
    second = services.message_send(actor=mona, conversation_id=group.pk, body="at 8")

    tasks.message_notify_task(message_id=first.pk)
    tasks.message_notify_task(message_id=second.pk)

    notification = Notification.objects.get()
    assert (notification.recipient_id, notification.type, notification.target_id) == (omar.pk, "message", group.pk)
    assert notification.data["preview"] == "at 8"
    assert notification.data["count"] == 2
    services.conversation_mark_read(actor=omar, conversation_id=group.pk)
    assert notifications.unread_count(user_id=omar.pk) == 0


def test_wallet_events_notify_the_creator_in_their_language_and_never_from_a_blocked_sender(users):
    # given
    creator, fan, blocked_fan = users(3)
    Profile.objects.filter(user=fan).update(display_name="Omar")
    block(creator, blocked_fan)

    # when: the handlers routed from gift.received / tip.received / subscription.started run
    tasks.gift_notify_task(gift_id=1, sender_id=fan.pk, creator_id=creator.pk, post_id=None)
    tasks.tip_notify_task(tip_id=2, sender_id=fan.pk, creator_id=creator.pk, context="dm")
    tasks.subscription_notify_task(subscription_id=3, subscriber_id=fan.pk, creator_id=creator.pk, tier_level=2)
    tasks.gift_notify_task(gift_id=4, sender_id=blocked_fan.pk, creator_id=creator.pk, post_id=None)

    # then
    inbox = list(Notification.objects.filter(recipient=creator).order_by("sort_id"))
    assert [n.type for n in inbox] == ["gift", "tip", "subscription"]
    assert {n.last_actor_id for n in inbox} == {fan.pk}
    assert notifications.notification_text(inbox[0], language="en") == "Omar sent you a gift"
    assert notifications.notification_text(inbox[2], language="ar") == "اشترك Omar في قناتك"
    assert [events.route_task(r) for r in events.ROUTES["gift.received"]] == ["messaging.tasks.gift_notify_batch_task"]


def test_a_burst_of_gifts_to_one_creator_is_one_task_and_one_grouped_notification(users):
    # given: a creator, five fans, one of whom the creator blocked
    creator, *fans = users(6)
    block(creator, fans[-1])

    # when: the gifts' events are sent (as after their commits), then the one published task runs
    for number, fan in enumerate(fans):
        events._send("gift.received", {"gift_id": number, "sender_id": fan.pk, "creator_id": creator.pk, "post_id": None})
    events._send("tip.received", {"tip_id": 9, "sender_id": fans[0].pk, "creator_id": creator.pk, "context": "dm"})
    assert tasks.gift_notify_batch_task(key=str(creator.pk)) == 5
    assert tasks.tip_notify_batch_task(key=str(creator.pk)) == 1

    # then: one grouped gift notification from the four unblocked fans, and the tip
    gift, tip = Notification.objects.filter(recipient=creator).order_by("sort_id")
    assert (gift.type, gift.actor_count, tip.type) == ("gift", 4, "tip")
    assert set(gift.actors.values_list("actor_id", flat=True)) == {fan.pk for fan in fans[:4]}
