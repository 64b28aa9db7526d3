"""Malformed GraphQL requests are the client's error, said as GraphQL errors: never a 500,
never a stack trace, and never masked as our own "internal_error"."""

from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

INT_QUERY = "query($l: Int) { followRequests(limit: $l) { nextCursor } }"
ID_QUERY = "query($id: ID!) { circle(id: $id) { id } }"
STRING_QUERY = "query($h: String!) { user(handle: $h) { id } }"


def post_raw(body: bytes) -> tuple[int, dict]:
    response = Client().post("/graphql/", data=body, content_type="application/json")
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "query,variables,expected",
    [
        (INT_QUERY, {"l": 2**63}, "Variable '$l' got invalid value 9223372036854775808; Int cannot represent non 32-bit "
                                  "signed integer value: 9223372036854775808"),
        (INT_QUERY, {"l": "abc"}, "Variable '$l' got invalid value 'abc'; Int cannot represent non-integer value: 'abc'"),
        (ID_QUERY, {"id": 1.5}, "Variable '$id' got invalid value 1.5; ID cannot represent value: 1.5"),
        (ID_QUERY, {}, "Variable '$id' of required type 'ID!' was not provided."),
        (STRING_QUERY, {"h": ["x"]}, "Variable '$h' got invalid value ['x']; String cannot represent a non string "
                                     "value: ['x']"),
        (STRING_QUERY, {"h": {"a": 1}}, "Variable '$h' got invalid value {'a': 1}; String cannot represent a non "
                                        "string value: {'a': 1}"),
    ],
)
def test_variables_of_the_wrong_type_are_graphql_errors(query, variables, expected):
    status, body = post_raw(json.dumps({"query": query, "variables": variables}).encode())

    assert status == 400
    assert [error["message"] for error in body["errors"]] == [expected]
    assert "extensions" not in body["errors"][0]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"query": "{ user { id } }"}',  # missing argument
        b'{"query": "{ user(handle: 5) { id } }"}',  # literal of the wrong type
        b'{"query": "{ followRequests(limit: 99999999999999999999) { nextCursor } }"}',  # beyond Int
        b'{"query": "\\u0000"}',
        b'{"query": "{ user(handle: \\"\\ud800\\") { id } }"}',
        b'{"query": 5}',
        b'{"query": "{ apiVersion }", "variables": [1, 2]}',
        b'{"query": "{ apiVersion }", "operationName": 7}',
        b"\xff\xfe",
        b'{"query": "' + b"{ me " * 300 + b'"}',  # nested too deep
    ],
)
def test_malformed_documents_are_400_graphql_errors(raw):
    status, body = post_raw(raw)

    assert status == 400
    assert body["errors"]
    assert all(error.get("extensions", {}).get("code") != "internal_error" for error in body["errors"])
    assert "Traceback" not in json.dumps(body)


def test_ids_beyond_64_bits_are_not_found_for_a_logged_in_caller(graphql):
    from accounts.tests.factories import UserFactory

    body = graphql(ID_QUERY, {"id": str(2**200)}, user=UserFactory())

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["not_found"]
