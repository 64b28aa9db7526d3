import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuthEvent, OtpChallenge, User
from accounts.services import otp_request
from accounts.tests.factories import UserFactory
from daira.lib.errors import ServiceUnavailable

pytestmark = pytest.mark.django_db

PHONE = "+201012345678"


def _request(api_client, phone="01012345678", purpose="register"):
    return api_client.post("/api/v1/auth/otp/request", {"phone": phone, "purpose": purpose}, format="json")


def _age(seconds: int) -> None:
    """Move every challenge `seconds` into the past (as if that much time went by)."""
    for challenge in OtpChallenge.objects.all():
        OtpChallenge.objects.filter(pk=challenge.pk).update(
            created_at=challenge.created_at - timedelta(seconds=seconds),
            expires_at=challenge.expires_at - timedelta(seconds=seconds),
        )


def test_code_goes_by_flash_call_first_and_is_stored_hashed(api_client, providers):
    # when
    response = _request(api_client)

    # then
    assert response.status_code == 200
    assert response.json() == {"channel": "flash_call", "expires_in": 600, "resend_after": 60, "code_length": 6}
    cli = providers.code_sent("flash_call")
    challenge = OtpChallenge.objects.get()
    assert (challenge.phone, challenge.purpose, challenge.channel) == (PHONE, "register", "flash_call")
    assert cli[-6:] not in challenge.code_hash
    assert len(challenge.code_hash) == 64
    request = providers.requests[0][1]
    assert request.headers["Authorization"] == "Bearer flash-token"
    assert json.loads(request.content)["to"] == PHONE


def test_falls_back_to_whatsapp_when_flash_call_times_out(api_client, providers):
    providers.fail = {"flash_call": "timeout"}

    response = _request(api_client)

    assert response.json()["channel"] == "whatsapp"
    assert [channel for channel, _ in providers.requests] == ["flash_call", "whatsapp"]
    whatsapp = json.loads(providers.requests[1][1].content)
    assert whatsapp["to"] == "201012345678"
    assert whatsapp["template"]["name"] == "daira_otp"


def test_falls_back_to_sms_when_flash_call_and_whatsapp_fail(api_client, providers):
    # given: flash call provider is down, and WhatsApp accepts nothing for this number
    providers.fail = {"flash_call": "error", "whatsapp": "reject"}

    # when
    response = _request(api_client)

    # then
    assert response.json()["channel"] == "sms"
    assert [channel for channel, _ in providers.requests] == ["flash_call", "whatsapp", "sms"]
    assert OtpChallenge.objects.get().channel == "sms"
    sms = providers.requests[2][1]
    assert sms.url.path == "/2010-04-01/Accounts/AC1/Messages.json"
    assert providers.code_sent("sms").isdigit()


def test_every_gateway_failing_is_unavailable_and_stores_nothing(providers):
    # (a service test: the strict test client refuses every 5xx, this 503 included)
    providers.fail = {"flash_call": "timeout", "whatsapp": "error", "sms": "error"}

    with pytest.raises(ServiceUnavailable) as excinfo:
        otp_request(phone="01012345678", purpose="register")

    assert excinfo.value.status_code == 503
    assert excinfo.value.code == "otp_delivery_failed"
    assert [channel for channel, _ in providers.requests] == ["flash_call", "whatsapp", "sms"]
    assert OtpChallenge.objects.exists() is False


def test_console_gateway_is_the_default(api_client, console_codes):
    response = _request(api_client)

    assert response.json()["channel"] == "console"
    assert len(console_codes()) == 1


def test_register_with_flash_call_caller_id(api_client, providers):
    # given: the app read the missed call's caller id
    _request(api_client)
    caller_id = providers.code_sent("flash_call")

    # when
    response = api_client.post("/api/v1/auth/register", {
        "handle": "mona", "password": "a long passphrase 42", "phone": "01012345678", "otp_code": caller_id,
    }, format="json")

    # then
    assert response.status_code == 201, response.json()
    user = User.objects.get(handle="mona")
    assert user.phone == PHONE
    assert user.phone_verified_at is not None
    assert OtpChallenge.objects.get().consumed_at is not None


def test_wrong_codes_count_and_lock_after_five(api_client, console_codes):
    # given
    _request(api_client)
    good = console_codes()[-1]
    bad = "000000" if good != "000000" else "111111"
    body = {"handle": "mona", "password": "a long passphrase 42", "phone": "01012345678"}

    # when: five wrong codes (from different networks, so the sign-up rate limit stays out of the way)
    answers = [api_client.post("/api/v1/auth/register", {**body, "otp_code": bad}, format="json",
                               REMOTE_ADDR=f"10.0.0.{n}").json()
               for n in range(5)]

    # then: the right code no longer works either
    assert [a["error"]["code"] for a in answers] == ["otp_wrong"] * 5
    assert [a["error"]["attempts_left"] for a in answers] == [4, 3, 2, 1, 0]
    locked = api_client.post("/api/v1/auth/register", {**body, "otp_code": good}, format="json",
                             REMOTE_ADDR="10.0.1.1")
    assert locked.status_code == 400
    assert locked.json()["error"]["code"] == "otp_locked"
    assert OtpChallenge.objects.get().attempts == 5
    assert User.objects.filter(handle="mona").exists() is False
    assert AuthEvent.objects.filter(kind="otp_failed").count() == 5


def test_expired_code_is_refused(api_client, console_codes):
    _request(api_client)
    code = console_codes()[-1]
    _age(601)

    response = api_client.post("/api/v1/auth/register", {
        "handle": "mona", "password": "a long passphrase 42", "phone": "01012345678", "otp_code": code,
    }, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "otp_expired"
    assert User.objects.filter(handle="mona").exists() is False


def test_code_still_valid_just_before_ten_minutes(api_client, console_codes):
    _request(api_client)
    code = console_codes()[-1]
    _age(590)

    response = api_client.post("/api/v1/auth/register", {
        "handle": "mona", "password": "a long passphrase 42", "phone": "01012345678", "otp_code": code,
    }, format="json")

    assert response.status_code == 201


def test_resend_cooldown_is_60_seconds(api_client, console_codes):
    # given
    _request(api_client)

    # when
    too_soon = _request(api_client)
    _age(61)
    later = _request(api_client)

    # then
    assert too_soon.status_code == 429
    assert too_soon.json()["error"]["code"] == "otp_cooldown"
    assert 1 <= int(too_soon["Retry-After"]) <= 60
    assert later.status_code == 200
    assert OtpChallenge.objects.count() == 2


def test_only_the_latest_code_counts(api_client, console_codes):
    _request(api_client)
    _age(61)
    _request(api_client)
    first, second = console_codes()[-2:]
    body = {"handle": "mona", "password": "a long passphrase 42", "phone": "01012345678"}

    if first != second:
        assert api_client.post("/api/v1/auth/register", {**body, "otp_code": first},
                               format="json").status_code == 400
    assert api_client.post("/api/v1/auth/register", {**body, "otp_code": second}, format="json").status_code == 201


def test_code_works_once(api_client, console_codes):
    UserFactory(handle="mona", phone=PHONE)
    _request(api_client, purpose="login")
    code = console_codes()[-1]

    first = api_client.post("/api/v1/auth/otp/login", {"phone": PHONE, "code": code}, format="json")
    second = api_client.post("/api/v1/auth/otp/login", {"phone": PHONE, "code": code}, format="json")

    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"]["code"] == "otp_missing"


def test_otp_login_in_arabic_digits_marks_phone_verified(api_client, console_codes):
    user = UserFactory(handle="mona", phone=PHONE)
    _request(api_client, phone="٠١٠١٢٣٤٥٦٧٨", purpose="login")
    arabic = console_codes()[-1].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))

    response = api_client.post("/api/v1/auth/otp/login", {"phone": "01012345678", "code": arabic}, format="json")

    assert response.status_code == 200
    assert response.json()["user"]["handle"] == "mona"
    user.refresh_from_db()
    assert user.phone_verified_at is not None


def test_register_purpose_refuses_a_taken_number_and_login_an_unknown_one(api_client, console_codes):
    UserFactory(phone=PHONE)

    taken = _request(api_client, purpose="register")
    unknown = _request(api_client, phone="01112345678", purpose="login")

    assert taken.json()["error"]["fields"] == {"phone": ["An account already uses this number."]}
    assert unknown.json()["error"]["fields"] == {"phone": ["No account uses this number."]}
    assert console_codes() == []


def test_phone_change_needs_code_on_the_new_number(api_client, auth_client, console_codes):
    # given
    user = UserFactory(phone=PHONE)
    client = auth_client(user)

    # when
    sent = client.post("/api/v1/me/phone", {"phone": "01112345678"}, format="json")
    wrong = client.post("/api/v1/me/phone/confirm", {"phone": "01112345678", "code": "99999x"}, format="json")
    right = client.post("/api/v1/me/phone/confirm", {"phone": "01112345678", "code": console_codes()[-1]},
                        format="json")

    # then
    assert sent.status_code == 200
    assert wrong.status_code == 400
    assert right.status_code == 200
    assert right.json()["phone"] == "+201112345678"
    assert AuthEvent.objects.filter(user=user, kind="phone_changed").count() == 1


def test_a_code_for_someone_elses_phone_change_cannot_be_used(api_client, auth_client, console_codes):
    alice, mallory = UserFactory(), UserFactory()
    auth_client(alice).post("/api/v1/me/phone", {"phone": "01112345678"}, format="json")

    response = auth_client(mallory).post("/api/v1/me/phone/confirm",
                                         {"phone": "01112345678", "code": console_codes()[-1]}, format="json")

    assert response.status_code == 400
    mallory.refresh_from_db()
    assert mallory.phone is None
    assert timezone.now()  # the clock is aware
