"""Messages: idempotent send, edit window, unsend, delete for me, reactions, read state,
unread counts, history pagination, moderation, story replies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import UserSettings
from daira.lib.errors import Invalid, NotFound, PermissionDenied
from messaging import selectors, services, tasks
from messaging.models import Change, Message, MessageHidden, MessageReaction, Participant
from messaging.tests.conftest import follow

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(users):
    """Two people who follow each other, with their 1:1 conversation."""
    mona, omar = users(2)
    follow(mona, omar)
    follow(omar, mona)
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    return mona, omar, conversation


def test_retried_send_with_the_same_client_id_returns_the_original(chat, django_capture_on_commit_callbacks,
                                                                     emitted_events):
    # given
    mona, omar, conversation = chat

    # when
    with django_capture_on_commit_callbacks(execute=True):
        first = services.message_send(actor=mona, conversation_id=conversation.pk, body="hi", client_id="c-1")
    with django_capture_on_commit_callbacks(execute=True):
        again = services.message_send(actor=mona, conversation_id=conversation.pk, body="hi", client_id="c-1")

    # then
    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert emitted_events == [("message.created", {"message_id": first.pk})]
    assert Change.objects.filter(event="message.created").count() == 1


def test_the_same_client_id_in_another_conversation_is_a_conflict(chat, users):
    mona, omar, conversation = chat
    (sara,) = users(1)
    other = services.conversation_direct_start(actor=mona, other_id=sara.pk)
    services.message_send(actor=mona, conversation_id=conversation.pk, body="hi", client_id="c-1")

    with pytest.raises(Exception) as raised:
        services.message_send(actor=mona, conversation_id=other.pk, body="hi", client_id="c-1")

    assert raised.value.code == "conflict"
    assert Message.objects.count() == 1


def test_send_rejects_empty_and_foreign_attachments_and_writes_nothing(chat):
    mona, omar, conversation = chat

    with pytest.raises(Invalid):
        services.message_send(actor=mona, conversation_id=conversation.pk, body="   ")
    with pytest.raises(Invalid):
        services.message_send(actor=mona, conversation_id=conversation.pk, media_ids=[123456789])

    assert Message.objects.exists() is False


def test_non_members_cannot_send_or_read(chat, users):
    mona, omar, conversation = chat
    (outsider,) = users(1)

    with pytest.raises(NotFound):
        services.message_send(actor=outsider, conversation_id=conversation.pk, body="hi")
    with pytest.raises(NotFound):
        selectors.message_history(viewer=outsider, conversation_id=conversation.pk)


def test_moderation_rejects_text_and_nothing_is_stored(chat, monkeypatch):
    from moderation import services as moderation_services
    from moderation.services import Verdict

    mona, omar, conversation = chat
    monkeypatch.setattr(moderation_services, "text_check",
                        lambda **kwargs: Verdict(action="reject", reason="keyword"))

    with pytest.raises(Invalid) as raised:
        services.message_send(actor=mona, conversation_id=conversation.pk, body="bad words")

    assert raised.value.code == "content_rejected"
    assert Message.objects.exists() is False


def test_edit_within_15_minutes_then_refused(chat):
    mona, omar, conversation = chat
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="helo")

    services.message_edit(actor=mona, message_id=message.pk, body="hello")
    with pytest.raises(PermissionDenied):
        services.message_edit(actor=omar, message_id=message.pk, body="not mine")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=15, seconds=1))
    with pytest.raises(PermissionDenied) as raised:
        services.message_edit(actor=mona, message_id=message.pk, body="too late")

    message.refresh_from_db()
    assert raised.value.code == "edit_window_closed"
    assert message.body == "hello"
    assert message.edited_at is not None


def test_unsend_leaves_a_tombstone_for_everyone(chat):
    mona, omar, conversation = chat
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="oops")
    services.message_react(actor=omar, message_id=message.pk, emoji="😂")

    with pytest.raises(PermissionDenied):
        services.message_unsend(actor=omar, message_id=message.pk)
    services.message_unsend(actor=mona, message_id=message.pk)

    history = selectors.messages_render(selectors.message_history(viewer=omar, conversation_id=conversation.pk).items)
    assert [(m["id"], m["body"], m["unsent"], m["reactions"]) for m in history] == [(str(message.pk), "", True, [])]
    assert MessageReaction.objects.exists() is False


def test_delete_for_me_hides_only_for_me(chat):
    mona, omar, conversation = chat
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="secret")

    services.message_delete_for_me(actor=omar, message_id=message.pk)
    services.message_delete_for_me(actor=omar, message_id=message.pk)  # idempotent

    assert selectors.message_history(viewer=omar, conversation_id=conversation.pk).items == []
    assert [m.pk for m in selectors.message_history(viewer=mona, conversation_id=conversation.pk).items] == [message.pk]
    assert MessageHidden.objects.count() == 1


def test_reacting_again_replaces_the_reaction(chat):
    mona, omar, conversation = chat
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="news")

    services.message_react(actor=omar, message_id=message.pk, emoji="❤️")
    services.message_react(actor=omar, message_id=message.pk, emoji="🔥")
    with pytest.raises(Invalid):
        services.message_react(actor=omar, message_id=message.pk, emoji="abc")

    assert list(MessageReaction.objects.values_list("user_id", "emoji")) == [(omar.pk, "🔥")]


def test_reply_to_must_be_in_the_same_conversation(chat, users):
    mona, omar, conversation = chat
    (sara,) = users(1)
    elsewhere = services.conversation_direct_start(actor=mona, other_id=sara.pk)
    foreign = services.message_send(actor=mona, conversation_id=elsewhere.pk, body="x")
    original = services.message_send(actor=omar, conversation_id=conversation.pk, body="question?")

    reply = services.message_send(actor=mona, conversation_id=conversation.pk, body="answer", reply_to_id=original.pk)
    with pytest.raises(Invalid):
        services.message_send(actor=mona, conversation_id=conversation.pk, body="no", reply_to_id=foreign.pk)

    assert reply.reply_to_id == original.pk


def test_unread_counts_per_conversation_and_total_and_read_marker(chat, users):
    # given: omar sends three messages, sara's group one
    mona, omar, conversation = chat
    (sara,) = users(1)
    follow(mona, sara)
    group = services.conversation_group_create(actor=sara, name="G", member_ids=[mona.pk])
    first = services.message_send(actor=omar, conversation_id=conversation.pk, body="one")
    services.message_send(actor=omar, conversation_id=conversation.pk, body="two")
    services.message_send(actor=omar, conversation_id=conversation.pk, body="three")
    services.message_send(actor=sara, conversation_id=group.pk, body="group hello")

    # when / then
    rows = {row.conversation.pk: row.unread_count for row in selectors.conversation_list(viewer=mona, cursor=None, limit=10).items}
    assert rows == {conversation.pk: 3, group.pk: 1}
    assert selectors.unread_totals(viewer=mona) == {"messages": 4, "conversations": 2, "requests": 0, "notifications": 0}

    services.conversation_mark_read(actor=mona, conversation_id=conversation.pk, message_id=first.pk)
    assert selectors.conversation_get(viewer=mona, conversation_id=conversation.pk).unread_count == 2
    services.conversation_mark_read(actor=mona, conversation_id=conversation.pk)
    services.conversation_mark_read(actor=mona, conversation_id=conversation.pk, message_id=first.pk)  # never backwards
    assert selectors.unread_totals(viewer=mona)["messages"] == 1
    assert Participant.objects.get(conversation=conversation, user=mona).last_read_message_id == conversation.messages.latest("id").pk


def test_read_receipts_are_shown_only_when_the_reader_allows_them(chat):
    mona, omar, conversation = chat
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="seen?")
    UserSettings.objects.filter(user=omar).update(read_receipts=False)

    services.conversation_mark_read(actor=omar, conversation_id=conversation.pk)

    assert selectors.conversation_get(viewer=mona, conversation_id=conversation.pk).read_states == []
    read_change = Change.objects.get(event="conversation.read")
    assert (read_change.user_id, read_change.conversation_id) == (omar.pk, None)
    UserSettings.objects.filter(user=omar).update(read_receipts=True)
    assert selectors.conversation_get(viewer=mona, conversation_id=conversation.pk).read_states == [
        {"user_id": str(omar.pk), "last_read_message_id": str(message.pk)}
    ]


def test_history_pages_backwards_and_forwards(chat, settings):
    settings.MODERATION_VELOCITY_CAPS = {**settings.MODERATION_VELOCITY_CAPS, "dms": {"established": (100, 100), "new": (100, 100)}}
    mona, omar, conversation = chat
    sent = [services.message_send(actor=mona, conversation_id=conversation.pk, body=f"m{i}").pk for i in range(5)]

    newest = selectors.message_history(viewer=omar, conversation_id=conversation.pk, limit=2)
    older = selectors.message_history(viewer=omar, conversation_id=conversation.pk, before=newest.next_cursor, limit=2)
    oldest = selectors.message_history(viewer=omar, conversation_id=conversation.pk, before=older.next_cursor, limit=2)
    from daira.lib.pagination import encode_cursor

    forward = selectors.message_history(viewer=omar, conversation_id=conversation.pk, after=encode_cursor(sent[1]), limit=2)
    rest = selectors.message_history(viewer=omar, conversation_id=conversation.pk, after=forward.next_cursor, limit=2)

    assert [m.pk for m in newest.items] == [sent[4], sent[3]]
    assert [m.pk for m in older.items] == [sent[2], sent[1]]
    assert [m.pk for m in oldest.items] == [sent[0]]
    assert oldest.next_cursor is None
    assert [m.pk for m in forward.items] == [sent[2], sent[3]]
    assert [m.pk for m in rest.items] == [sent[4]]


def test_conversation_list_is_ordered_by_last_activity_with_the_last_message(users):
    mona, omar, sara = users(3)
    follow(mona, omar)
    follow(mona, sara)
    with_omar = services.conversation_direct_start(actor=omar, other_id=mona.pk)
    with_sara = services.conversation_direct_start(actor=sara, other_id=mona.pk)
    services.message_send(actor=omar, conversation_id=with_omar.pk, body="first")
    services.message_send(actor=sara, conversation_id=with_sara.pk, body="second")
    latest = services.message_send(actor=omar, conversation_id=with_omar.pk, body="third")

    page = selectors.conversation_list(viewer=mona, cursor=None, limit=1)
    rest = selectors.conversation_list(viewer=mona, cursor=page.next_cursor, limit=1)

    assert [r.conversation.pk for r in page.items] == [with_omar.pk]
    assert page.items[0].as_dict()["last_message"]["id"] == str(latest.pk)
    assert [r.conversation.pk for r in rest.items] == [with_sara.pk]
    assert rest.next_cursor is None


def test_story_reply_arrives_as_a_message_quoting_the_story_once(users):
    # given
    author, fan = users(2)
    follow(author, fan)

    # when: the event is delivered twice (at-least-once)
    tasks.story_replied_task(story_id=777, author_id=author.pk, replier_id=fan.pk, text="nice view!")
    tasks.story_replied_task(story_id=777, author_id=author.pk, replier_id=fan.pk, text="nice view!")

    # then
    message = Message.objects.get()
    assert (message.sender_id, message.kind, message.body) == (fan.pk, "story_reply", "nice view!")
    assert message.quote == {"story_id": "777", "author_id": str(author.pk)}
    assert Participant.objects.get(conversation=message.conversation, user=author).state == "active"


def test_story_reply_respects_who_can_message(users):
    author, stranger = users(2)
    UserSettings.objects.filter(user=author).update(who_can_message="nobody")

    tasks.story_replied_task(story_id=1, author_id=author.pk, replier_id=stranger.pk, text="hey")

    assert Message.objects.exists() is False


def test_a_held_message_reaches_only_the_sender_until_a_moderator_clears_it(chat, monkeypatch):
    from moderation import services as moderation_services
    from moderation.services import Verdict

    # given: moderation holds the text
    mona, omar, conversation = chat
    monkeypatch.setattr(moderation_services, "text_check", lambda **kwargs: Verdict(action="hold", reason="keyword"))
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="borderline")
    assert message.held is True
    assert selectors.message_history(viewer=omar, conversation_id=conversation.pk).items == []
    assert [m.pk for m in selectors.message_history(viewer=mona, conversation_id=conversation.pk).items] == [message.pk]

    # when: the moderator dismisses the case (the event moderation emits)
    tasks.moderation_decided_task(case_id=1, decision="dismiss", target_app_label="messaging", target_model="message",
                                  target_id=message.pk, target_user_id=mona.pk)

    # then
    assert [m.pk for m in selectors.message_history(viewer=omar, conversation_id=conversation.pk).items] == [message.pk]
    conversation.refresh_from_db()
    assert conversation.last_message_id == message.pk


def test_a_removed_message_is_blanked_for_everyone(chat):
    mona, omar, conversation = chat
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="spam link")

    tasks.moderation_decided_task(case_id=1, decision="remove", target_app_label="messaging", target_model="message",
                                  target_id=message.pk, target_user_id=mona.pk)

    message.refresh_from_db()
    assert (message.body, message.unsent_at is not None, message.held) == ("", True, True)
    assert selectors.message_history(viewer=omar, conversation_id=conversation.pk).items == []
    assert Change.objects.filter(event="message.deleted", payload__reason="moderation").count() == 1


def test_only_members_may_report_a_message(chat, users):
    from daira.lib.errors import NotFound as AppNotFound
    from moderation import services as moderation_services

    mona, omar, conversation = chat
    (outsider,) = users(1)
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="report me")

    report = moderation_services.report_create(reporter=omar, target_type="message", target_id=message.pk,
                                               reason="spam")
    with pytest.raises(AppNotFound):
        moderation_services.report_create(reporter=outsider, target_type="message", target_id=message.pk,
                                          reason="spam")

    assert report.pk is not None


def test_sharing_a_post_checks_the_sender_can_see_it(chat, users):
    from content import services as content_services

    mona, omar, conversation = chat
    (author,) = users(1)
    post = content_services.post_create(author=author, body="worth sharing")

    message = services.message_send(actor=mona, conversation_id=conversation.pk, shared_post_id=post.pk)
    with pytest.raises(NotFound):
        services.message_send(actor=mona, conversation_id=conversation.pk, shared_post_id=post.pk + 1)

    assert (message.kind, message.shared_post_id) == ("post", post.pk)
