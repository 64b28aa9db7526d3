from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import DataExport, DeviceSession, OtpChallenge
from accounts.services import data_export_build
from accounts.tasks import accounts_housekeeping_task, data_export_build_task
from accounts.tests.factories import UserFactory, login_for

pytestmark = pytest.mark.django_db


def test_housekeeping_requeues_stuck_exports_and_prunes_old_rows(monkeypatch):
    # given
    user = UserFactory()
    now = timezone.now()
    stuck = DataExport.objects.create(user=user, created_at=now - timedelta(minutes=20))
    DataExport.objects.create(user=user)  # fresh: its own task is still on the way
    expired = data_export_build(export_id=DataExport.objects.create(user=user, created_at=now - timedelta(days=5)).pk)
    DataExport.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(minutes=1))
    OtpChallenge.objects.create(phone="+201012345678", purpose="login", code_hash="x", channel="sms",
                                created_at=now - timedelta(days=2), expires_at=now - timedelta(days=2))
    recent_otp = OtpChallenge.objects.create(phone="+201012345678", purpose="login", code_hash="x", channel="sms",
                                             expires_at=now + timedelta(minutes=10))
    old_session = login_for(user).session
    DeviceSession.objects.filter(pk=old_session.pk).update(revoked_at=now - timedelta(days=91))
    live_session = login_for(user).session
    queued = []
    monkeypatch.setattr(data_export_build_task, "delay", lambda export_id: queued.append(export_id))

    # when
    dropped = accounts_housekeeping_task()

    # then
    assert queued == [stuck.pk]
    assert dropped == 1
    assert default_storage.exists(expired.file) is False
    assert DataExport.objects.get(pk=expired.pk).file == ""
    assert list(OtpChallenge.objects.values_list("pk", flat=True)) == [recent_otp.pk]
    assert list(DeviceSession.objects.values_list("pk", flat=True)) == [live_session.pk]


def test_export_build_is_idempotent():
    user = UserFactory()
    export = data_export_build(export_id=DataExport.objects.create(user=user).pk)

    again = data_export_build(export_id=export.pk)

    assert again.file == export.file
    assert data_export_build(export_id=12345) is None
