"""Demo profile data for `manage.py seed_demo` (idempotent)."""

from django.utils import timezone

DEMO_PROFILES = {
    "mona": ("Mona Khaled · منى", "Photos from Cairo's rooftops 📷", ["https://example.com/mona"], "ar"),
    "omar": ("Omar", "Football, koshary and code.", [], "en"),
    "layla": ("ليلى", "بحب الكتب والقهوة", [], "ar"),
}


def seed_profiles() -> None:
    from accounts.models import Profile, User

    for handle, (display_name, bio, links, language) in DEMO_PROFILES.items():
        user = User.objects.filter(handle=handle).first()
        if user is None:
            continue
        Profile.objects.filter(user=user, display_name="").update(display_name=display_name, bio=bio, links=links,
                                                                 language=language)
        if user.phone and user.phone_verified_at is None:
            User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
