"""Starting chats (who may message me, blocks, message requests) and group admin rules."""

import pytest
from django.test import override_settings

from accounts.models import UserSettings
from daira.lib.errors import Conflict, Invalid, NotFound, PermissionDenied
from messaging import selectors, services
from messaging.models import Conversation, Participant
from messaging.tests.conftest import follow
from social.models import Block
from social.tests.factories import block

pytestmark = pytest.mark.django_db


def _state(conversation, user):
    return Participant.objects.get(conversation=conversation, user=user).state


def test_direct_conversation_is_unique_per_pair_whoever_starts_it(users):
    # given
    mona, omar = users(2)

    # when
    first = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    second = services.conversation_direct_start(actor=omar, other_id=mona.pk)

    # then
    assert first.pk == second.pk
    assert Conversation.objects.count() == 1
    assert first.direct_key == f"{min(mona.pk, omar.pk)}:{max(mona.pk, omar.pk)}"


def test_message_from_someone_the_recipient_does_not_follow_lands_in_requests(users):
    # given
    stranger, mona = users(2)

    # when
    conversation = services.conversation_direct_start(actor=stranger, other_id=mona.pk)
    services.message_send(actor=stranger, conversation_id=conversation.pk, body="hello there")

    # then
    assert _state(conversation, mona) == Participant.State.REQUEST
    assert _state(conversation, stranger) == Participant.State.ACTIVE
    assert [row.conversation.pk for row in selectors.conversation_list(viewer=mona, cursor=None, limit=10, requests=True).items] == [conversation.pk]
    assert selectors.conversation_list(viewer=mona, cursor=None, limit=10).items == []


def test_message_from_someone_the_recipient_follows_lands_in_the_inbox(users):
    mona, friend = users(2)
    follow(mona, friend)

    conversation = services.conversation_direct_start(actor=friend, other_id=mona.pk)

    assert _state(conversation, mona) == Participant.State.ACTIVE


def test_request_accept_moves_it_to_the_inbox(users):
    stranger, mona = users(2)
    conversation = services.conversation_direct_start(actor=stranger, other_id=mona.pk)
    services.message_send(actor=stranger, conversation_id=conversation.pk, body="hi")

    services.message_request_accept(actor=mona, conversation_id=conversation.pk)

    assert _state(conversation, mona) == Participant.State.ACTIVE
    assert selectors.conversation_list(viewer=mona, cursor=None, limit=10, requests=True).items == []


def test_request_delete_hides_it_and_a_new_message_brings_it_back_as_a_request(users):
    stranger, mona = users(2)
    conversation = services.conversation_direct_start(actor=stranger, other_id=mona.pk)
    services.message_send(actor=stranger, conversation_id=conversation.pk, body="hi")

    services.message_request_delete(actor=mona, conversation_id=conversation.pk)
    assert _state(conversation, mona) == Participant.State.LEFT
    services.message_send(actor=stranger, conversation_id=conversation.pk, body="hi again")

    assert _state(conversation, mona) == Participant.State.REQUEST


def test_request_block_blocks_the_sender_and_stops_further_messages(users):
    stranger, mona = users(2)
    conversation = services.conversation_direct_start(actor=stranger, other_id=mona.pk)
    services.message_send(actor=stranger, conversation_id=conversation.pk, body="hi")

    services.message_request_block(actor=mona, conversation_id=conversation.pk)

    assert Block.objects.filter(blocker=mona, blocked=stranger).exists() is True
    with pytest.raises(PermissionDenied):
        services.message_send(actor=stranger, conversation_id=conversation.pk, body="still there?")
    assert conversation.messages.count() == 1


def test_who_can_message_nobody_refuses_a_new_chat(users):
    mona, omar = users(2)
    UserSettings.objects.filter(user=mona).update(who_can_message="nobody")

    with pytest.raises(PermissionDenied) as raised:
        services.conversation_direct_start(actor=omar, other_id=mona.pk)

    assert raised.value.code == "cannot_message"
    assert Conversation.objects.exists() is False


def test_who_can_message_following_allows_only_people_she_follows(users):
    mona, followed, stranger = users(3)
    UserSettings.objects.filter(user=mona).update(who_can_message="following")
    follow(mona, followed)

    conversation = services.conversation_direct_start(actor=followed, other_id=mona.pk)
    with pytest.raises(PermissionDenied):
        services.conversation_direct_start(actor=stranger, other_id=mona.pk)

    assert _state(conversation, mona) == Participant.State.ACTIVE


def test_an_unaccepted_request_stops_when_the_recipient_turns_messages_off(users):
    stranger, mona = users(2)
    conversation = services.conversation_direct_start(actor=stranger, other_id=mona.pk)
    services.message_send(actor=stranger, conversation_id=conversation.pk, body="first")
    UserSettings.objects.filter(user=mona).update(who_can_message="nobody")

    with pytest.raises(PermissionDenied):
        services.message_send(actor=stranger, conversation_id=conversation.pk, body="second")
    assert conversation.messages.count() == 1


def test_blocked_users_cannot_start_or_continue_a_chat(users):
    mona, omar = users(2)
    conversation = services.conversation_direct_start(actor=omar, other_id=mona.pk)
    block(mona, omar)

    with pytest.raises(NotFound):
        services.conversation_direct_start(actor=omar, other_id=mona.pk)
    with pytest.raises(PermissionDenied):
        services.message_send(actor=mona, conversation_id=conversation.pk, body="hi")
    assert conversation.messages.count() == 0


def test_starting_a_chat_with_oneself_is_invalid(users):
    (mona,) = users(1)

    with pytest.raises(Invalid):
        services.conversation_direct_start(actor=mona, other_id=mona.pk)


def test_group_create_makes_the_creator_admin_and_strangers_get_a_request(users):
    # given
    mona, friend, stranger = users(3)
    follow(friend, mona)

    # when
    group = services.conversation_group_create(actor=mona, name="Family", member_ids=[friend.pk, stranger.pk])

    # then
    roles = dict(Participant.objects.filter(conversation=group).values_list("user_id", "role"))
    assert roles == {mona.pk: "admin", friend.pk: "member", stranger.pk: "member"}
    assert _state(group, friend) == Participant.State.ACTIVE
    assert _state(group, stranger) == Participant.State.REQUEST
    assert group.member_count == 3


@override_settings(MESSAGING_GROUP_MAX_MEMBERS=3)
def test_groups_are_capped(users):
    mona, a, b, c = users(4)

    with pytest.raises(Invalid):
        services.conversation_group_create(actor=mona, name="Big", member_ids=[a.pk, b.pk, c.pk])
    group = services.conversation_group_create(actor=mona, name="Ok", member_ids=[a.pk, b.pk])
    with pytest.raises(Invalid):
        services.group_members_add(actor=mona, conversation_id=group.pk, user_ids=[c.pk])

    assert Participant.objects.filter(conversation=group).count() == 3


def test_only_admins_add_remove_and_rename(users):
    mona, omar, sara, layla = users(4)
    group = services.conversation_group_create(actor=mona, name="Team", member_ids=[omar.pk, sara.pk])

    with pytest.raises(PermissionDenied):
        services.group_members_add(actor=omar, conversation_id=group.pk, user_ids=[layla.pk])
    with pytest.raises(PermissionDenied):
        services.group_member_remove(actor=omar, conversation_id=group.pk, user_id=sara.pk)
    with pytest.raises(PermissionDenied):
        services.group_update(actor=omar, conversation_id=group.pk, name="Hacked")

    services.group_members_add(actor=mona, conversation_id=group.pk, user_ids=[layla.pk])
    services.group_member_remove(actor=mona, conversation_id=group.pk, user_id=sara.pk)
    services.group_update(actor=mona, conversation_id=group.pk, name="Team 2")

    group.refresh_from_db()
    assert group.name == "Team 2"
    assert group.member_count == 3
    assert _state(group, sara) == Participant.State.LEFT
    with pytest.raises(NotFound):
        services.message_send(actor=sara, conversation_id=group.pk, body="let me back")


def test_anyone_may_leave_and_the_last_admin_leaving_promotes_the_oldest_member(users):
    mona, omar, sara = users(3)
    group = services.conversation_group_create(actor=mona, name="Team", member_ids=[omar.pk, sara.pk])

    services.conversation_leave(actor=mona, conversation_id=group.pk)

    assert _state(group, mona) == Participant.State.LEFT
    admins = list(Participant.objects.filter(conversation=group, role="admin").values_list("user_id", flat=True))
    assert admins == [omar.pk]


def test_the_last_admin_cannot_demote_themself(users):
    mona, omar = users(2)
    group = services.conversation_group_create(actor=mona, name="Team", member_ids=[omar.pk])

    with pytest.raises(Conflict):
        services.group_admin_set(actor=mona, conversation_id=group.pk, user_id=mona.pk, is_admin=False)
    services.group_admin_set(actor=mona, conversation_id=group.pk, user_id=omar.pk, is_admin=True)
    services.group_admin_set(actor=omar, conversation_id=group.pk, user_id=mona.pk, is_admin=False)

    roles = dict(Participant.objects.filter(conversation=group).values_list("user_id", "role"))
    assert roles == {mona.pk: "member", omar.pk: "admin"}


def test_a_direct_conversation_cannot_be_left(users):
    mona, omar = users(2)
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)

    with pytest.raises(Invalid):
        services.conversation_leave(actor=mona, conversation_id=conversation.pk)
