"""Fuzzing the wallet's REST operations from the OpenAPI schema (schemathesis): schema-valid
and schema-violating requests, with a real Bearer token and an Idempotency-Key; the one
property is "never a 5xx" (plus the project's `_no_server_errors` fixture)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _load_schema():
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from daira.wsgi import application

    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


schema = _load_schema().include(path_regex=r"^/api/v1/wallet/")


@pytest.fixture(autouse=True)
def _in_process_wsgi(settings):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    settings.ALLOWED_HOSTS = ["testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def payer_headers(db):
    """One caller with coins per operation (examples of an operation share it)."""
    from wallet.tests.conftest import bearer, grant_coins

    user = UserFactory()
    grant_coins(user, 50)
    return {"Authorization": f"Bearer {bearer(user)}", "Idempotency-Key": "fuzz-key"}


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_wallet_operations_never_answer_5xx(case, payer_headers):
    case.call_and_validate(checks=[not_a_server_error], headers=payer_headers)
