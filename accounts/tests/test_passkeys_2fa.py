import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuthEvent, DeviceSession, Passkey
from accounts.tests.factories import UserFactory
from accounts.tests.softauthn import SoftAuthenticator, b64url

pytestmark = pytest.mark.django_db


def _register_passkey(client, authenticator):
    options = client.post("/api/v1/me/passkeys/options").json()
    return client.post("/api/v1/me/passkeys", {"credential": authenticator.create(options), "name": "Pixel"},
                       format="json")


def test_passkey_registration_and_login_with_a_software_authenticator(api_client, auth_client):
    # given
    user = UserFactory(handle="mona")
    authenticator = SoftAuthenticator()

    # when: register
    registered = _register_passkey(auth_client(user), authenticator)

    # then
    assert registered.status_code == 201, registered.json()
    passkey = Passkey.objects.get(user=user)
    assert bytes(passkey.credential_id) == authenticator.credential_id
    assert registered.json()["name"] == "Pixel"
    assert AuthEvent.objects.filter(user=user, kind="passkey_added").count() == 1

    # when: log in (discoverable credential: no handle given)
    start = api_client.post("/api/v1/auth/passkey/options", {}, format="json").json()
    response = api_client.post("/api/v1/auth/passkey/login", {
        "challenge_id": start["challenge_id"], "credential": authenticator.get(start["options"]),
        "device_name": "Pixel",
    }, format="json")

    # then
    assert response.status_code == 200, response.json()
    assert response.json()["user"]["id"] == str(user.pk)
    assert DeviceSession.objects.get(pk=int(response.json()["tokens"]["session_id"])).method == "passkey"
    passkey.refresh_from_db()
    assert passkey.sign_count == 1


def test_passkey_login_refuses_a_replayed_challenge_and_a_foreign_origin(api_client, auth_client):
    user = UserFactory(handle="mona")
    authenticator = SoftAuthenticator()
    _register_passkey(auth_client(user), authenticator)
    start = api_client.post("/api/v1/auth/passkey/options", {"handle": "mona"}, format="json").json()
    assert [c["id"] for c in start["options"]["allowCredentials"]] == [b64url(authenticator.credential_id)]
    assertion = authenticator.get(start["options"])
    first = api_client.post("/api/v1/auth/passkey/login", {"challenge_id": start["challenge_id"],
                                                           "credential": assertion}, format="json")

    replay = api_client.post("/api/v1/auth/passkey/login", {"challenge_id": start["challenge_id"],
                                                            "credential": assertion}, format="json")
    phishing_start = api_client.post("/api/v1/auth/passkey/options", {}, format="json").json()
    phished = api_client.post("/api/v1/auth/passkey/login", {
        "challenge_id": phishing_start["challenge_id"],
        "credential": authenticator.get(phishing_start["options"], origin="https://daira-login.example"),
    }, format="json")

    assert first.status_code == 200
    assert replay.json()["error"]["code"] == "challenge_expired"
    assert phished.status_code == 401
    assert DeviceSession.objects.filter(user=user, method="passkey").count() == 1


def test_passkey_from_an_unknown_key_is_refused(api_client):
    start = api_client.post("/api/v1/auth/passkey/options", {}, format="json").json()

    response = api_client.post("/api/v1/auth/passkey/login", {
        "challenge_id": start["challenge_id"], "credential": SoftAuthenticator().get(start["options"]),
    }, format="json")

    assert response.status_code == 401


def test_passkey_registration_with_a_tampered_answer_is_refused(auth_client):
    user = UserFactory()
    client = auth_client(user)
    options = client.post("/api/v1/me/passkeys/options").json()
    options["challenge"] = "AAAA" + options["challenge"][4:]

    response = client.post("/api/v1/me/passkeys", {"credential": SoftAuthenticator().create(options)}, format="json")

    assert response.status_code == 400
    assert Passkey.objects.exists() is False


def _totp_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_totp_enrolment_then_login_needs_the_second_factor(api_client, auth_client):
    # given: two-factor turned on
    user = UserFactory(handle="mona")
    client = auth_client(user)
    setup = client.post("/api/v1/me/2fa/totp").json()
    assert setup["otpauth_url"].startswith("otpauth://totp/")
    device = TOTPDevice.objects.get(user=user)
    assert client.post("/api/v1/me/2fa/totp/confirm", {"code": _totp_code(device)}, format="json").status_code == 204

    # when: password login
    first = api_client.post("/api/v1/auth/login", {"identifier": "mona", "password": "correct-horse-battery"},
                            format="json").json()

    # then: no tokens yet; a wrong code fails, the right one logs in
    assert first["two_factor_required"] is True
    assert first["tokens"] is None
    wrong = api_client.post("/api/v1/auth/login/2fa", {"challenge": first["challenge"], "code": "000000"},
                            format="json")
    assert wrong.status_code == 400
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.last_t = -1
    device.save()
    done = api_client.post("/api/v1/auth/login/2fa", {"challenge": first["challenge"], "code": _totp_code(device)},
                           format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["user"]["two_factor_enabled"] is True
    assert AuthEvent.objects.filter(user=user, kind="totp_enabled").count() == 1


def test_forged_two_factor_challenge_is_refused(api_client):
    response = api_client.post("/api/v1/auth/login/2fa", {"challenge": "forged", "code": "123456"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "challenge_expired"
