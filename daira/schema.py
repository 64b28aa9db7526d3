"""The root GraphQL schema: stitches each app's `schema.py` Query and Mutation.

An app joins by defining `Query` and/or `Mutation` classes in its schema.py and
being listed in APP_SCHEMAS.
"""

from importlib import import_module

import graphene

APP_SCHEMAS = [
    "accounts.schema",
    "social.schema",
    "moderation.schema",
    "media.schema",
    "content.schema",
    "feeds.schema",
    "recommendations.schema",
    "messaging.schema",
    "wallet.schema",
]


class PlatformQuery(graphene.ObjectType):
    server_time = graphene.DateTime(required=True, description="The server's clock (UTC).")
    api_version = graphene.String(required=True)

    @staticmethod
    def resolve_server_time(root, info):
        from django.utils import timezone

        return timezone.now()

    @staticmethod
    def resolve_api_version(root, info):
        return "1.0.0"


def _collect(attribute: str) -> list[type]:
    found = []
    for module_name in APP_SCHEMAS:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # a real import error inside an existing schema module
            continue
        if hasattr(module, attribute):
            found.append(getattr(module, attribute))
    return found


Query = type("Query", (*_collect("Query"), PlatformQuery, graphene.ObjectType), {})
_mutations = _collect("Mutation")
Mutation = type("Mutation", (*_mutations, graphene.ObjectType), {}) if _mutations else None

schema = graphene.Schema(query=Query, mutation=Mutation)
