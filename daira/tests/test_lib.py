"""Shared helpers: cursor pagination, rate limits, the GraphQL mutation base."""

import graphene
import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from daira.lib import pagination, ratelimit
from daira.lib.errors import Invalid, RateLimited
from daira.lib.graphql import DairaMutation


@pytest.mark.django_db
def test_paginate_by_id_walks_every_row_once_newest_first():
    # given
    users = [UserFactory() for _ in range(5)]
    expected = sorted((u.pk for u in users), reverse=True)

    # when
    seen, cursor = [], None
    while True:
        page = pagination.paginate_by_id(User.objects.all(), cursor=cursor, limit=2)
        seen.extend(u.pk for u in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    # then
    assert seen == expected


def test_garbage_cursor_is_invalid_not_a_crash():
    with pytest.raises(Invalid) as caught:
        pagination.decode_cursor("%%%not-base64")
    assert caught.value.fields == {"cursor": ["The cursor is not valid."]}


@pytest.mark.parametrize("raw,expected", [(None, 20), ("5", 5), ("1000", 100)])
def test_parse_limit_defaults_and_caps(raw, expected):
    assert pagination.parse_limit(raw) == expected


def test_rate_limit_allows_up_to_the_limit_then_says_when_to_retry():
    for _ in range(3):
        ratelimit.hit("test", "ip-1", limit=3, window_s=60)

    with pytest.raises(RateLimited) as caught:
        ratelimit.hit("test", "ip-1", limit=3, window_s=60)

    assert 1 <= caught.value.retry_after <= 60
    assert ratelimit.hit("test", "ip-2", limit=3, window_s=60) == 2  # other identities unaffected


class Shout(DairaMutation):
    class Arguments:
        text = graphene.String(required=True)

    text = graphene.String()

    @classmethod
    def perform(cls, root, info, *, text):
        if not text:
            raise Invalid("Say something.", field="text", code="empty")
        return cls(text=text.upper())


class _Query(graphene.ObjectType):
    ok = graphene.Boolean()


class _Mutation(graphene.ObjectType):
    shout = Shout.Field()


_schema = graphene.Schema(query=_Query, mutation=_Mutation)


class _Context:
    def __init__(self, user):
        self.user = user


@pytest.mark.django_db
def test_mutation_base_maps_application_errors_to_typed_errors():
    user = UserFactory()
    query = 'mutation($t: String!) { shout(text: $t) { text errors { code message field } } }'

    ok = _schema.execute(query, variables={"t": "hi"}, context_value=_Context(user))
    bad = _schema.execute(query, variables={"t": ""}, context_value=_Context(user))

    assert ok.errors is None and ok.data == {"shout": {"text": "HI", "errors": []}}
    assert bad.data == {"shout": {"text": None, "errors": [{"code": "empty", "message": "Say something.", "field": "text"}]}}


def test_mutation_base_refuses_anonymous_callers():
    from django.contrib.auth.models import AnonymousUser

    result = _schema.execute('mutation { shout(text: "x") { errors { code } } }', context_value=_Context(AnonymousUser()))

    assert result.data == {"shout": {"errors": [{"code": "not_authenticated"}]}}
