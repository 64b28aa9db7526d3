"""Admin for operators: watch processing, see why an asset failed, send it through again."""

from django.contrib import admin, messages

from daira.lib.errors import ApplicationError
from media import services
from media.models import MediaAsset, Upload


@admin.register(MediaAsset)
class MediaAssetAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "status", "progress", "failure_code", "attempts", "created_at")
    list_filter = ("status", "kind", "purpose", "failure_code")
    search_fields = ("=id", "owner__handle")
    raw_id_fields = ("owner",)
    readonly_fields = [f.name for f in MediaAsset._meta.fields]
    actions = ["reprocess"]

    @admin.action(description="Process again (resets attempts)")
    def reprocess(self, request, queryset):
        done = 0
        for asset in queryset:
            try:
                services.asset_reprocess(asset=asset)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{asset.pk}: {error.message}", level=messages.WARNING)
        self.message_user(request, f"{done} asset(s) queued for processing.")


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "mode", "offset", "length", "detected_type", "expires_at", "completed_at")
    list_filter = ("mode", "purpose")
    search_fields = ("=id", "owner__handle")
    raw_id_fields = ("owner", "asset")
    readonly_fields = [f.name for f in Upload._meta.fields]
