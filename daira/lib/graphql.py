"""GraphQL glue: the view (same JWT auth as REST) and the mutation base class.

`DairaMutation` subclasses implement `perform(cls, root, info, **kwargs)` and return
`cls(...)`. The base checks authentication (set `login_required = False` to allow
anonymous callers) and turns our ApplicationError into a typed `errors` list, so
clients get `{"errors": [{"code", "message", "field"}]}` in the payload instead of a
top-level GraphQL error, the way Saleor does it.
"""

from __future__ import annotations

import json

import graphene
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView
from graphql import GraphQLError

from daira.lib import auth
from daira.lib.errors import ApplicationError, NotAuthenticated
from daira.lib.errors import PermissionDenied as AppPermissionDenied


class ErrorType(graphene.ObjectType):
    code = graphene.String(required=True)
    message = graphene.String(required=True)
    field = graphene.String()
    retry_after = graphene.Int()


def errors_from(exc: ApplicationError) -> list[ErrorType]:
    retry_after = getattr(exc, "retry_after", None)
    if not exc.fields:
        return [ErrorType(code=exc.code, message=exc.message, field=None, retry_after=retry_after)]
    return [
        ErrorType(code=exc.code, message=message, field=field, retry_after=retry_after)
        for field, messages in exc.fields.items()
        for message in messages
    ]


class DairaMutation(graphene.Mutation):
    """Base for every mutation: auth check + ApplicationError → `errors`."""

    class Meta:
        abstract = True

    errors = graphene.List(graphene.NonNull(ErrorType), required=True)
    login_required = True

    @classmethod
    def mutate(cls, root, info, **kwargs):
        try:
            if cls.login_required and not info.context.user.is_authenticated:
                raise NotAuthenticated("Authentication credentials were not provided.")
            result = cls.perform(root, info, **kwargs)
        except ApplicationError as exc:
            return cls(errors=errors_from(exc))
        if getattr(result, "errors", None) is None:
            result.errors = []
        return result

    @classmethod
    def perform(cls, root, info, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError


def require_user(info):
    """The authenticated user of a resolver, or raise NotAuthenticated."""
    user = info.context.user
    if not user.is_authenticated:
        raise NotAuthenticated("Authentication credentials were not provided.")
    return user


def require_staff(info):
    user = require_user(info)
    if not user.is_staff:
        raise AppPermissionDenied("Staff only.")
    return user


@method_decorator(csrf_exempt, name="dispatch")
class DairaGraphQLView(GraphQLView):
    """GraphQL endpoint authenticated by the same Bearer JWT as REST.

    Queries that raise our ApplicationError come back as GraphQL errors whose
    `extensions.code` is our error code, never as a 500.
    """

    def dispatch(self, request, *args, **kwargs):
        header = request.headers.get("Authorization")
        if header:
            request.user = auth.user_from_authorization_header(header)
        return super().dispatch(request, *args, **kwargs)

    def parse_body(self, request):
        try:
            return super().parse_body(request)
        except json.JSONDecodeError as exc:  # pragma: no cover - graphene raises HttpError already
            raise exc

    @staticmethod
    def format_error(error):
        formatted = GraphQLView.format_error(error)
        original = getattr(error, "original_error", None)
        if isinstance(original, ApplicationError):
            formatted["extensions"] = {"code": original.code, "fields": original.fields}
        elif original is None or isinstance(original, GraphQLError):
            # The client's mistake, said by graphql-core itself: syntax, validation, and
            # variables of the wrong type or out of range ("Int cannot represent ...").
            # graphql-core wraps the scalar's own GraphQLError as original_error there.
            pass
        else:
            # Never leak internals: an unexpected exception is logged by graphene; the
            # client sees a generic message.
            import logging

            logging.getLogger(__name__).error("graphql.unhandled", exc_info=original)
            formatted["message"] = "Internal error."
            formatted["extensions"] = {"code": "internal_error"}
        return formatted


def json_error_response(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"error": {"code": code, "message": message, "fields": {}}}),
        status=status,
        content_type="application/json",
    )
