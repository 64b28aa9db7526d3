"""Validation of payout identity and destinations (Egypt). Each returns the normalised value
or raises daira.lib.errors.Invalid with the field name."""

from __future__ import annotations

import re
from datetime import date

from django.conf import settings
from django.utils import timezone

from daira.lib.errors import Invalid

# Governorate codes of birth (digits 8-9 of the national ID); 88 = born abroad.
GOVERNORATES = {
    "01": "Cairo", "02": "Alexandria", "03": "Port Said", "04": "Suez", "11": "Damietta", "12": "Dakahlia",
    "13": "Sharqia", "14": "Qalyubia", "15": "Kafr El Sheikh", "16": "Gharbia", "17": "Monufia", "18": "Beheira",
    "19": "Ismailia", "21": "Giza", "22": "Beni Suef", "23": "Fayoum", "24": "Minya", "25": "Assiut", "26": "Sohag",
    "27": "Qena", "28": "Aswan", "29": "Luxor", "31": "Red Sea", "32": "New Valley", "33": "Matrouh",
    "34": "North Sinai", "35": "South Sinai", "88": "Born abroad",
}
CENTURIES = {"2": 1900, "3": 2000}
CHECK_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def national_id_check_digit(first13: str) -> int:
    """The check digit most public validators use (weights 2,7,6,5,4,3,2,7,6,5,4,3,2, mod 11).

    The Civil Status Organization does not publish its algorithm and public sources
    disagree, so this check only runs when WALLET_NATIONAL_ID_CHECK_DIGIT is on."""
    total = sum(int(d) * w for d, w in zip(first13, CHECK_WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def validate_national_id(raw: str, *, field: str = "national_id") -> str:
    """A 14-digit Egyptian national ID, checked by structure:

    1. exactly 14 ASCII digits (Arabic-Indic digits are converted first);
    2. digit 1 is the century of birth: 2 = 1900s, 3 = 2000s;
    3. digits 2-7 are a real birth date (YYMMDD), not in the future, and the holder is 18+
       (payouts go to adults only);
    4. digits 8-9 are a governorate code (or 88, born abroad);
    5. digit 14, the check digit, only when WALLET_NATIONAL_ID_CHECK_DIGIT is on (see above).
    Digits 10-13 (sequence; 13 is odd for men, even for women) have no invalid values."""
    value = (raw or "").strip().translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))
    if not re.fullmatch(r"[0-9]{14}", value):
        raise Invalid("A national ID is 14 digits.", field=field)
    if value[0] not in CENTURIES:
        raise Invalid("The national ID's first digit (century) must be 2 or 3.", field=field)
    try:
        born = date(CENTURIES[value[0]] + int(value[1:3]), int(value[3:5]), int(value[5:7]))
    except ValueError:
        raise Invalid("The national ID does not contain a valid birth date.", field=field) from None
    today = timezone.localdate()
    if born > today:
        raise Invalid("The national ID's birth date is in the future.", field=field)
    if (today.year - born.year - ((today.month, today.day) < (born.month, born.day))) < 18:
        raise Invalid("Payouts are for adults (18+) only.", field=field)
    if value[7:9] not in GOVERNORATES:
        raise Invalid("The national ID's governorate code is not valid.", field=field)
    if settings.WALLET_NATIONAL_ID_CHECK_DIGIT and national_id_check_digit(value[:13]) != int(value[13]):
        raise Invalid("The national ID's check digit is wrong.", field=field)
    return value


def validate_egyptian_iban(raw: str, *, field: str = "destination") -> str:
    """An Egyptian IBAN: "EG", 2 check digits, then 25 digits (4 bank, 4 branch, 17 account),
    29 characters in all, with a valid ISO 7064 mod-97 checksum. Spaces are ignored."""
    value = re.sub(r"\s+", "", raw or "").upper()
    if not re.fullmatch(r"EG[0-9]{27}", value):
        raise Invalid("An Egyptian IBAN is EG followed by 27 digits.", field=field)
    rearranged = value[4:] + value[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    if int(numeric) % 97 != 1:
        raise Invalid("The IBAN's check digits are wrong.", field=field)
    return value


def validate_mobile_wallet(raw: str, *, field: str = "destination") -> str:
    """An Egyptian mobile number (Vodafone 010, Etisalat/e& 011, Orange 012, WE 015) as E.164."""
    value = re.sub(r"[\s-]+", "", raw or "")
    match = re.fullmatch(r"(?:\+20|0020|0)?(1[0125][0-9]{8})", value)
    if not match:
        raise Invalid("A mobile wallet number is an Egyptian mobile number (010/011/012/015).", field=field)
    return "+20" + match.group(1)


def validate_instapay_address(raw: str, *, field: str = "destination") -> str:
    """An InstaPay payment address (IPA) such as "name@instapay", or a mobile number linked to InstaPay."""
    value = (raw or "").strip().lower()
    if re.fullmatch(r"[a-z0-9][a-z0-9._-]{2,40}@instapay", value):
        return value
    try:
        return validate_mobile_wallet(value, field=field)
    except Invalid:
        raise Invalid("An InstaPay address looks like name@instapay (or a mobile number).", field=field) from None


def validate_destination(destination_type: str, raw: str) -> str:
    validators = {"iban": validate_egyptian_iban, "wallet": validate_mobile_wallet, "instapay": validate_instapay_address}
    if destination_type not in validators:
        raise Invalid("Choose instapay, wallet or iban.", field="destination_type")
    return validators[destination_type](raw)


def mask(value: str) -> str:
    """Keep the last 4 characters (for anonymised records and admin lists)."""
    return ("•" * max(0, len(value) - 4)) + value[-4:]
