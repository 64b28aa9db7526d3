import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from accounts import registry
from accounts.models import AuthEvent, User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STRONG = "a long passphrase 42"


def test_register_by_email_logs_in_and_sends_verification(api_client, emitted_events, mailoutbox,
                                                          django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/register", {
            "handle": "Mona.K", "password": STRONG, "email": "Mona@Example.com", "language": "en",
            "device_name": "Pixel 8",
        }, format="json")

    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    user = User.objects.get(handle="mona.k")
    assert body["user"]["id"] == str(user.pk)
    assert body["user"]["email"] == "mona@example.com"
    assert body["user"]["email_verified"] is False
    assert body["user"]["language"] == "en"
    assert body["user"]["settings"]["data_saver"] is True
    assert body["tokens"]["access"]
    assert ("user.registered", {"user_id": user.pk}) in emitted_events
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["mona@example.com"]
    assert list(AuthEvent.objects.filter(user=user).order_by("id").values_list("kind", flat=True)) == [
        "registered", "login"]


def test_email_verification_link(api_client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/v1/auth/register", {"handle": "mona", "password": STRONG, "email": "m@example.com"},
                        format="json")
    token = mailoutbox[0].body.split("token=")[1].split()[0]

    response = api_client.get("/api/v1/auth/email/verify", {"token": token})

    assert response.status_code == 200
    assert User.objects.get(handle="mona").email_verified_at is not None
    assert api_client.get("/api/v1/auth/email/verify", {"token": token + "x"}).status_code == 400


def test_register_reports_every_field_problem_and_creates_nothing(api_client):
    # given
    UserFactory(handle="taken", email="taken@example.com")

    # when
    response = api_client.post("/api/v1/auth/register", {
        "handle": "Taken", "password": "12345678", "phone": "0123", "email": "TAKEN@example.com",
    }, format="json")

    # then
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields["handle"] == ["This handle is taken."]
    assert fields["phone"] == ["This is not a valid phone number."]
    assert fields["email"] == ["An account already uses this e-mail address."]
    assert "This password is too common." in fields["password"]
    assert User.objects.count() == 1


def test_register_with_phone_needs_the_code(api_client):
    response = api_client.post("/api/v1/auth/register", {"handle": "mona", "password": STRONG,
                                                         "phone": "01012345678"}, format="json")

    assert response.json()["error"]["fields"] == {"otp_code": ["Enter the code sent to your phone."]}


def test_register_refuses_a_cyrillic_lookalike_handle(api_client):
    response = api_client.post("/api/v1/auth/register", {"handle": "mon\u0430", "password": STRONG,
                                                         "email": "m@example.com"}, format="json")

    assert response.status_code == 400
    assert "looks like a Latin letter" in response.json()["error"]["fields"]["handle"][0]
    assert User.objects.exists() is False


def test_me_patch_validates_and_saves(auth_client):
    user = UserFactory()
    client = auth_client(user)

    response = client.patch("/api/v1/me", {"display_name": "منى", "bio": "Cairo", "language": "en",
                                           "links": ["https://mona.example/a", "http://x.example"]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["display_name"], body["bio"], body["language"]) == ("منى", "Cairo", "en")
    assert body["links"] == ["https://mona.example/a", "http://x.example"]


@pytest.mark.parametrize("payload,field", [
    ({"bio": "x" * 151}, "bio"),
    ({"links": ["javascript:alert(1)"]}, "links"),
    ({"links": ["https://a.example"] * 6}, "links"),
    ({"links": "https://a.example"}, "links"),
    ({"language": "fr"}, "language"),
])
def test_me_patch_refuses_bad_values(auth_client, payload, field):
    user = UserFactory()

    response = auth_client(user).patch("/api/v1/me", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    user.profile.refresh_from_db()
    assert (user.profile.bio, user.profile.links, user.profile.language) == ("", [], "ar")


def test_governorate_is_set_on_me_cleared_with_blank_and_never_on_the_public_profile(auth_client, api_client):
    # given
    user = UserFactory(handle="mona")
    client = auth_client(user)

    # when
    set_response = client.patch("/api/v1/me", {"governorate": "eg-alx"}, format="json")
    public = api_client.get("/api/v1/users/mona").json()
    stranger_view = auth_client(UserFactory()).get("/api/v1/users/mona").json()
    cleared = client.patch("/api/v1/me", {"governorate": ""}, format="json")

    # then
    assert set_response.status_code == 200
    assert set_response.json()["governorate"] == "EG-ALX"
    assert "governorate" not in public and "governorate" not in stranger_view
    assert cleared.json()["governorate"] == ""
    user.profile.refresh_from_db()
    assert user.profile.governorate == ""


@pytest.mark.parametrize("value", ["EG-XX", "Cairo", "x" * 17, 5])
def test_unknown_governorate_is_a_400_and_changes_nothing(auth_client, value):
    user = UserFactory()
    user.profile.governorate = "EG-C"
    user.profile.save()

    response = auth_client(user).patch("/api/v1/me", {"governorate": value, "bio": "new"}, format="json")

    assert response.status_code == 400
    assert "governorate" in response.json()["error"]["fields"]
    user.profile.refresh_from_db()
    assert (user.profile.governorate, user.profile.bio) == ("EG-C", "")


def test_governorates_lists_all_27_with_arabic_and_english_names(api_client):
    response = api_client.get("/api/v1/governorates")

    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == len({r["code"] for r in rows}) == 27
    assert {"code": "EG-C", "name_en": "Cairo", "name_ar": "القاهرة"} in rows


def test_settings_round_trip(auth_client):
    user = UserFactory()
    client = auth_client(user)

    response = client.patch("/api/v1/me/settings", {"is_private": True, "data_saver": False,
                                                    "who_can_message": "following", "who_can_mention": "nobody",
                                                    "default_post_audience": "friends"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"is_private": True, "data_saver": False, "who_can_message": "following",
                               "who_can_mention": "nobody", "show_activity_status": True, "read_receipts": True,
                               "default_post_audience": "friends"}
    user.refresh_from_db()
    assert user.is_private is True
    assert client.patch("/api/v1/me/settings", {"who_can_message": "aliens"}, format="json").status_code == 400


def _image(fmt: str, size=(640, 480), exif=True) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif and fmt == "JPEG":
        exif_data = Image.Exif()
        exif_data[0x010F] = "SpyCam"  # Make
        exif_data[0x0112] = 6  # orientation: rotate 90°
        image.save(out, format=fmt, exif=exif_data)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_avatar_upload_makes_square_renditions_without_exif(auth_client, fmt):
    # given: a file whose name lies about its type
    user = UserFactory()
    upload = io.BytesIO(_image(fmt))
    upload.name = "avatar.gif"

    # when
    response = auth_client(user).put("/api/v1/me/avatar", {"avatar": upload}, format="multipart")

    # then
    assert response.status_code == 200, response.json()
    user.profile.refresh_from_db()
    assert set(user.profile.avatar) == {"200", "400"}
    for size, path in user.profile.avatar.items():
        with default_storage.open(path) as stored, Image.open(stored) as rendition:
            assert rendition.format == "JPEG"
            assert rendition.size == (int(size), int(size))
            assert len(rendition.getexif()) == 0
    assert set(response.json()["avatar"]) == {"200", "400"}


def test_avatar_replacement_deletes_old_files(auth_client, django_capture_on_commit_callbacks):
    user = UserFactory()
    client = auth_client(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.put("/api/v1/me/avatar", {"avatar": io.BytesIO(_image("PNG"))}, format="multipart")
    user.profile.refresh_from_db()
    old = list(user.profile.avatar.values())

    with django_capture_on_commit_callbacks(execute=True):
        client.put("/api/v1/me/avatar", {"avatar": io.BytesIO(_image("JPEG"))}, format="multipart")

    assert [default_storage.exists(path) for path in old] == [False, False]


@pytest.mark.parametrize("content", [b"GIF89a" + b"\0" * 100, b"%PDF-1.4 not an image", b"\xff\xd8\xff\xe0broken", b""])
def test_avatar_refuses_non_images_by_content(auth_client, content):
    user = UserFactory()
    upload = io.BytesIO(content)
    upload.name = "photo.jpg"

    response = auth_client(user).put("/api/v1/me/avatar", {"avatar": upload}, format="multipart")

    assert response.status_code == 400
    user.profile.refresh_from_db()
    assert user.profile.avatar == {}


def test_avatar_over_10_mb_is_refused(auth_client):
    user = UserFactory()
    upload = io.BytesIO(b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024))
    upload.name = "big.jpg"

    response = auth_client(user).put("/api/v1/me/avatar", {"avatar": upload}, format="multipart")

    assert response.status_code == 413


def test_public_profile_hides_inactive_accounts_and_applies_registered_checks(api_client, auth_client):
    # given
    viewer = UserFactory()
    mona = UserFactory(handle="mona")
    UserFactory(handle="gone", status=User.Status.DEACTIVATED)

    def hide_from_viewer(v, user):
        return not (v is not None and v.pk == viewer.pk and user.pk == mona.pk)

    def follows(v, user):
        return {"is_following": False, "follows_you": v is not None}

    registry.register_profile_access_check(hide_from_viewer)
    registry.register_profile_extra(follows)
    try:
        # when
        anonymous = api_client.get("/api/v1/users/Mona")
        blocked = auth_client(viewer).get("/api/v1/users/mona")
        deactivated = api_client.get("/api/v1/users/gone")
    finally:
        registry.unregister(hide_from_viewer)
        registry.unregister(follows)

    # then
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body["id"] == str(mona.pk)
    assert body["counts"] == {"followers": 0, "following": 0, "friends": 0, "posts": 0}
    assert (body["is_following"], body["follows_you"]) == (False, False)
    assert "phone" not in body and "email" not in body
    assert blocked.status_code == 404
    assert deactivated.status_code == 404
    assert api_client.get("/api/v1/users/nobody").status_code == 404


def test_avatar_body_far_over_the_limit_is_refused_before_parsing(auth_client):
    user = UserFactory()
    upload = io.BytesIO(b"\0" * (11 * 1024 * 1024))
    upload.name = "huge.jpg"

    response = auth_client(user).put("/api/v1/me/avatar", {"avatar": upload}, format="multipart")

    assert response.status_code == 413
    assert response.json()["error"]["fields"] == {"avatar": ["An avatar may be at most 10 MB."]}
