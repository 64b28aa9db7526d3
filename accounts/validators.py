"""Input rules for handles and phone numbers. Each raises Invalid with a field message."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from daira.lib.errors import Invalid

HANDLE_MIN, HANDLE_MAX = 3, 30
_HANDLE_RE = re.compile(r"^[a-z0-9_.]+$")
RESERVED_HANDLES = frozenset(
    {
        "admin", "administrator", "root", "support", "help", "daira", "dayra", "api", "www", "mail", "email",
        "staff", "mod", "moderator", "moderation", "official", "security", "system", "team", "info", "about",
        "settings", "me", "you", "user", "users", "login", "logout", "signup", "register", "auth", "oauth",
        "account", "accounts", "graphql", "static", "media", "explore", "search", "home", "feed", "notifications",
        "messages", "inbox", "wallet", "payments", "billing", "legal", "privacy", "terms", "status", "null",
        "undefined", "anonymous", "everyone", "here", "circle", "circles", "stories", "reels", "live",
        "suggested",  # GET /api/v1/users/suggested (recommendations)
    }
)
DEFAULT_REGION = "EG"


def handle_normalize(raw: str) -> str:
    """Validate `raw` as a handle and return it lower-cased.

    Rules: 3–30 of `a-z 0-9 _ .`, at least one letter, no leading/trailing or doubled
    dot, not reserved. Any non-ASCII character is refused, with a clearer message for
    letters that only look Latin (Cyrillic "а", Greek "ο", fullwidth "ａ"...), because
    such handles exist to impersonate someone."""
    if not isinstance(raw, str):
        raise Invalid("Enter a handle.", field="handle")
    handle = raw.strip().removeprefix("@")
    for char in handle:
        if ord(char) > 127:
            raise Invalid(_non_ascii_message(char), field="handle", code="handle_confusable")
    handle = handle.lower()
    if not HANDLE_MIN <= len(handle) <= HANDLE_MAX:
        raise Invalid(f"A handle has {HANDLE_MIN} to {HANDLE_MAX} characters.", field="handle")
    if not _HANDLE_RE.match(handle):
        raise Invalid("A handle may only use the letters a-z, digits, _ and .", field="handle")
    if not re.search(r"[a-z]", handle):
        raise Invalid("A handle needs at least one letter.", field="handle")
    if handle.startswith(".") or handle.endswith(".") or ".." in handle:
        raise Invalid("A handle cannot start or end with a dot or have two dots in a row.", field="handle")
    if handle in RESERVED_HANDLES:
        raise Invalid("This handle is reserved.", field="handle", code="handle_reserved")
    return handle


def _non_ascii_message(char: str) -> str:
    name = unicodedata.name(char, "")
    skeleton = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    looks_latin = (
        bool(skeleton)
        or any(script in name for script in ("CYRILLIC", "GREEK", "FULLWIDTH", "ARMENIAN", "CHEROKEE"))
        and "LETTER" in name
    )
    if looks_latin:
        return (
            f"The handle contains {char!r} ({name.title() or 'a non-Latin character'}), which looks like a Latin "
            "letter but is not one. Handles use only the Latin letters a-z, digits, _ and ."
        )
    return "A handle may only use the Latin letters a-z, digits, _ and . (no other alphabets or symbols)."


def phone_normalize(raw: str, *, field: str = "phone", region: str = DEFAULT_REGION) -> str:
    """Parse `raw` (Egyptian local forms like 01012345678 included) and return it in E.164.

    Arabic-Indic digits are accepted. Raises Invalid for anything that is not a valid
    number, and for numbers that cannot receive a code (fixed lines are allowed: flash
    calls and SMS fallbacks do not work there, so they are refused as well)."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("Enter a phone number.", field=field)
    if len(raw) > 32:
        raise Invalid("This is not a valid phone number.", field=field, code="invalid_phone")
    candidate = raw.strip()
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        raise Invalid("This is not a valid phone number.", field=field, code="invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid("This is not a valid phone number.", field=field, code="invalid_phone")
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise Invalid("Use a mobile number: codes are sent by call, WhatsApp or SMS.", field=field,
                      code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(raw: str) -> bool:
    digits = re.sub(r"[\s\-()]", "", raw or "")
    return bool(digits) and (digits.startswith("+") or digits[0].isdigit()) and sum(c.isdigit() for c in digits) >= 7


def text_is_clean(value) -> bool:
    """False for strings Postgres or UTF-8 cannot store: NUL bytes and lone surrogates.

    JSON may carry both ("\\u0000", "\\ud800"), and GraphQL arguments are not checked by DRF's
    fields; such input must become a 400, never a database error."""
    if not isinstance(value, str):
        return True
    return "\x00" not in value and not any(0xD800 <= ord(char) <= 0xDFFF for char in value)


def require_clean_text(**values) -> None:
    """Raise Invalid naming each field whose text is not storable (see text_is_clean)."""
    bad = {name: "Contains characters that are not allowed." for name, value in values.items()
           if not text_is_clean(value)}
    if bad:
        raise Invalid("The request contains characters that are not allowed.", fields=bad)
