"""Media: resumable uploads and the assets made from them.

An `Upload` is a tus upload in progress (or a presigned direct-to-bucket upload): bytes
arrive in parts stored through Django's default storage, so any web process (and S3)
can take the next PATCH. A finished upload becomes a `MediaAsset`, whose lifecycle is

    uploaded → processing → ready
                          ↘ failed(reason)

with one service per transition (media/services.py). A processing asset carries a lease
(`lease_expires_at`) that its worker renews while it works; beat requeues assets whose
lease ran out (a worker killed mid-transcode), so nothing stays stuck in processing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from daira.lib.models import SnowflakeModel, TimeStampedModel


class Purpose(models.TextChoices):
    POST = "post", "Post"
    STORY = "story", "Story"
    AVATAR = "avatar", "Avatar"
    MESSAGE = "message", "Direct message"
    SOUND = "sound", "Sound"


# Purposes whose files are private: served only through short-lived signed URLs.
PRIVATE_PURPOSES = frozenset({Purpose.MESSAGE})


class Kind(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"


class Upload(SnowflakeModel):
    """One upload in progress: `offset` of `length` bytes received so far, in `parts`."""

    class Mode(models.TextChoices):
        TUS = "tus", "tus (resumable)"
        PRESIGNED = "presigned", "Presigned PUT to the bucket"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.TUS)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    # Storage names of the received parts, in order; their sizes add up to `offset`.
    parts = models.JSONField(default=list, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    declared_type = models.CharField(max_length=100, blank=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.POST)
    private = models.BooleanField(default=False)
    # The type sniffed from the first bytes (never the client's word), e.g. "video/mp4".
    detected_type = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    asset = models.OneToOneField(
        "media.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="upload"
    )

    class Meta:
        indexes = [
            models.Index(fields=["owner", "completed_at"], name="media_upload_owner_open"),
            models.Index(fields=["expires_at"], name="media_upload_expires"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(offset__gte=0) & models.Q(offset__lte=models.F("length")),
                name="media_upload_offset_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"upload {self.pk} ({self.offset}/{self.length})"

    @property
    def is_complete(self) -> bool:
        return self.completed_at is not None


class MediaAsset(TimeStampedModel):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="media_assets")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.POST)
    private = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    mime_type = models.CharField(max_length=100)
    size = models.BigIntegerField(default=0)
    # Where the original bytes are: either one storage object or the upload's parts.
    source_name = models.CharField(max_length=500, blank=True)
    source_parts = models.JSONField(default=list, blank=True)
    # Every file made from the source lives under this storage prefix (deleted as a whole).
    storage_prefix = models.CharField(max_length=300)

    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)
    blurhash = models.CharField(max_length=100, blank=True)
    probe = models.JSONField(default=dict, blank=True)
    # Outputs, as storage names relative to storage_prefix:
    # images: {"webp": [{"width", "height", "name"}], "jpeg": {...}}
    # videos: {"master": "hls/master.m3u8", "variants": [{"name": "360p", "width", "height",
    #          "bandwidth", "playlist"}], "poster": ..., "sprite": {...}, "mp4": ..., "audio": ...}
    renditions = models.JSONField(default=dict, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-id"], name="media_asset_owner"),
            models.Index(fields=["status", "lease_expires_at"], name="media_asset_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"

    def storage_name(self, relative: str) -> str:
        return f"{self.storage_prefix}/{relative}"
