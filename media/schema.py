"""Media GraphQL: an asset's status, progress and playback (uploads themselves go through tus)."""

from __future__ import annotations

import graphene
from graphene.types.generic import GenericScalar

from daira.lib.errors import ApplicationError
from media import selectors
from media.serializers import MediaAssetOutputSerializer


class MediaFailureType(graphene.ObjectType):
    code = graphene.String(required=True)
    message = graphene.String(required=True)


class MediaAssetType(graphene.ObjectType):
    """The same fields as the REST `GET /api/v1/media/{id}`."""

    id = graphene.ID(required=True)
    kind = graphene.String(required=True)
    status = graphene.String(required=True)
    progress = graphene.Int(description="Owner only")
    failure = graphene.Field(MediaFailureType, description="Owner only")
    purpose = graphene.String(required=True)
    mime_type = graphene.String(required=True)
    width = graphene.Int()
    height = graphene.Int()
    duration_ms = graphene.Int()
    has_audio = graphene.Boolean(required=True)
    blurhash = graphene.String(required=True)
    urls = GenericScalar(description="Delivery URLs once ready")
    playback = GenericScalar(description="Player hints for the viewer (data saver aware) once ready")
    created_at = graphene.DateTime(required=True)


class Query(graphene.ObjectType):
    media_asset = graphene.Field(MediaAssetType, id=graphene.ID(required=True))

    @staticmethod
    def resolve_media_asset(root, info, id):
        viewer = info.context.user
        try:
            asset = selectors.asset_get_for_viewer(viewer=viewer, asset_id=int(id))
        except (ApplicationError, ValueError):
            return None  # missing, hidden and malformed look the same
        data = MediaAssetOutputSerializer(asset, context={"viewer": viewer}).data
        failure = data.pop("failure")
        return MediaAssetType(
            **{**data, "created_at": asset.created_at},
            failure=MediaFailureType(**failure) if failure else None,
        )
