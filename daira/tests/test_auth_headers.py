"""Broken Authorization headers: a 401 in our error shape, with a readable message."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer x.y.z", "Bearer " + "a" * 9000,
                                    "Basic YWJjOmRlZg==", "Token abc"])
def test_broken_authorization_headers_are_401_with_a_plain_message(api_client, header):
    response = api_client.get("/api/v1/me", HTTP_AUTHORIZATION=header)

    body = response.json()["error"]
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "ErrorDetail" not in body["message"] and "{" not in body["message"]
    assert body["code"] in {"bad_authorization_header", "token_not_valid", "not_authenticated"}


def test_a_header_without_a_token_says_so():
    from django.test import Client

    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer")

    assert response.json() == {"error": {"code": "bad_authorization_header", "fields": {},
                                         "message": "Authorization header must contain two space-delimited values"}}
