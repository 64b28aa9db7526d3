import pytest

from accounts.models import Profile, User, UserSettings

pytestmark = pytest.mark.django_db


def test_create_user_makes_profile_and_settings():
    # when
    user = User.objects.create_user("Mona", "pw-12345678")

    # then
    assert user.handle == "mona"
    assert Profile.objects.filter(user=user).count() == 1
    assert UserSettings.objects.get(user=user).data_saver is True
    assert user.id > 1 << 40
