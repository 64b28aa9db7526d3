"""Output serializers other apps embed (content shows attachments with these)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from media import selectors
from media.models import MediaAsset


class MediaAssetOutputSerializer(serializers.ModelSerializer):
    """An asset as clients see it. Pass `context={"viewer": user}` for data-saver playback.

    `progress` and `failure` are shown to the owner only; `urls` and `playback` appear
    once the asset is ready.
    """

    id = serializers.CharField(read_only=True)
    progress = serializers.SerializerMethodField()
    failure = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()
    playback = serializers.SerializerMethodField()

    class Meta:
        model = MediaAsset
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "failure",
            "purpose",
            "mime_type",
            "width",
            "height",
            "duration_ms",
            "has_audio",
            "blurhash",
            "urls",
            "playback",
            "created_at",
        ]
        read_only_fields = fields

    def _is_owner(self, asset: MediaAsset) -> bool:
        viewer = self.context.get("viewer")
        return getattr(viewer, "pk", None) == asset.owner_id

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_progress(self, asset: MediaAsset):
        return asset.progress if self._is_owner(asset) else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_failure(self, asset: MediaAsset):
        if asset.status != MediaAsset.Status.FAILED or not self._is_owner(asset):
            return None
        return {"code": asset.failure_code, "message": asset.failure_message}

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_urls(self, asset: MediaAsset):
        return selectors.asset_urls(asset) or None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_playback(self, asset: MediaAsset):
        if asset.status != MediaAsset.Status.READY:
            return None
        return selectors.playback_for(viewer=self.context.get("viewer"), asset=asset)
