"""Media routes (included under /api/v1/)."""

from django.urls import path

from media import api

urlpatterns = [
    path("uploads", api.UploadCollectionApi.as_view()),
    path("uploads/", api.UploadCollectionApi.as_view(), name="media-uploads"),
    path("uploads/presign", api.UploadPresignApi.as_view(), name="media-upload-presign"),
    path("uploads/<int:upload_id>", api.UploadDetailApi.as_view(), name="media-upload"),
    path("uploads/<int:upload_id>/complete", api.UploadCompleteApi.as_view(), name="media-upload-complete"),
    path("media/<int:asset_id>", api.MediaAssetDetailApi.as_view(), name="media-asset"),
    path("media/signed/<str:token>/<path:relative>", api.signed_file, name="media-signed-file"),
]
