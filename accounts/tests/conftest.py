"""Fixtures for accounts tests: OTP providers faked at the HTTP boundary."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from accounts import gateways


class FakeProviders:
    """Answers the flash-call, WhatsApp and SMS providers' HTTP APIs; records each request.

    `fail` maps a channel to "error" (HTTP 503), "timeout" (httpx.ReadTimeout) or
    "reject" (WhatsApp 200 without a message id)."""

    def __init__(self):
        self.requests: list[tuple[str, httpx.Request]] = []
        self.fail: dict[str, str] = {}

    @staticmethod
    def channel_of(request: httpx.Request) -> str:
        host = request.url.host
        return {"flash.test": "flash_call", "graph.test": "whatsapp", "sms.test": "sms"}[host]

    def handler(self, request: httpx.Request) -> httpx.Response:
        channel = self.channel_of(request)
        self.requests.append((channel, request))
        mode = self.fail.get(channel)
        if mode == "timeout":
            raise httpx.ReadTimeout("provider too slow", request=request)
        if mode == "error":
            return httpx.Response(503, json={"error": "unavailable"})
        if channel == "whatsapp":
            if mode == "reject":
                return httpx.Response(200, json={"messages": []})
            return httpx.Response(200, json={"messages": [{"id": "wamid.1"}]})
        if channel == "sms":
            return httpx.Response(201, json={"sid": "SM1", "status": "queued"})
        return httpx.Response(202, json={"id": "call-1"})

    def code_sent(self, channel: str) -> str:
        """The code the last request to `channel` carried, read the way the provider would."""
        request = [r for c, r in self.requests if c == channel][-1]
        if channel == "flash_call":
            return json.loads(request.content)["cli"]
        if channel == "whatsapp":
            return json.loads(request.content)["template"]["components"][0]["parameters"][0]["text"]
        body = httpx.QueryParams(request.content.decode())
        return re.search(r"(\d{6})", body["Body"]).group(1)


@pytest.fixture
def providers(settings, monkeypatch) -> FakeProviders:
    """Every gateway configured and pointed at fake providers (through httpx.MockTransport)."""
    fake = FakeProviders()
    settings.DAIRA_FLASHCALL_URL = "https://flash.test/v1/calls"
    settings.DAIRA_FLASHCALL_TOKEN = "flash-token"
    settings.DAIRA_FLASHCALL_CLI_PREFIX = "+2023"
    settings.DAIRA_WHATSAPP_API_BASE = "https://graph.test/v21.0"
    settings.DAIRA_WHATSAPP_TOKEN = "wa-token"
    settings.DAIRA_WHATSAPP_PHONE_NUMBER_ID = "1055"
    settings.DAIRA_SMS_API_BASE = "https://sms.test"
    settings.DAIRA_SMS_ACCOUNT_SID = "AC1"
    settings.DAIRA_SMS_AUTH_TOKEN = "sms-token"
    settings.DAIRA_OTP_CHANNELS = ["flash_call", "whatsapp", "sms"]
    monkeypatch.setattr(gateways, "TRANSPORT", httpx.MockTransport(fake.handler))
    return fake


@pytest.fixture
def console_codes(settings, caplog):
    """The codes the development console gateway logged, newest last."""
    settings.DAIRA_FLASHCALL_URL = ""
    settings.DAIRA_WHATSAPP_TOKEN = ""
    settings.DAIRA_SMS_ACCOUNT_SID = ""
    caplog.set_level(logging.WARNING, logger="accounts.gateways")

    def codes() -> list[str]:
        return [m.group(1) for r in caplog.records if (m := re.search(r"code=(\d{6})", r.getMessage()))]

    return codes
