import pytest

from accounts.validators import handle_normalize, phone_normalize
from daira.lib.errors import Invalid


@pytest.mark.parametrize(
    "raw",
    ["01012345678", "+201012345678", "00201012345678", "0101 234 5678", "010-1234-5678", "٠١٠١٢٣٤٥٦٧٨",
     "+20 10 1234 5678"],
)
def test_egyptian_mobile_forms_normalise_to_e164(raw):
    assert phone_normalize(raw) == "+201012345678"


@pytest.mark.parametrize("raw,expected", [("01112345678", "+201112345678"), ("01212345678", "+201212345678"),
                                          ("01512345678", "+201512345678"), ("+14155552671", "+14155552671")])
def test_other_operators_and_foreign_numbers(raw, expected):
    assert phone_normalize(raw) == expected


@pytest.mark.parametrize("raw", ["", "123", "0101234567", "01912345678", "phone", "+20" + "1" * 40, "0227912345"])
def test_invalid_or_fixed_line_numbers_are_refused(raw):
    with pytest.raises(Invalid) as excinfo:
        phone_normalize(raw)

    assert list(excinfo.value.fields) == ["phone"]


@pytest.mark.parametrize("raw,expected", [("Mona", "mona"), ("@Mona_K.99", "mona_k.99"), ("abc", "abc"),
                                          ("a" * 30, "a" * 30)])
def test_handles_are_lowercased(raw, expected):
    assert handle_normalize(raw) == expected


@pytest.mark.parametrize("raw", ["ab", "a" * 31, "mona k", "mona-k", "mona!", "12345", "_.__", ".mona", "mona.",
                                 "mo..na", "admin", "Support", "DAIRA", "api"])
def test_bad_and_reserved_handles_are_refused(raw):
    with pytest.raises(Invalid) as excinfo:
        handle_normalize(raw)

    assert list(excinfo.value.fields) == ["handle"]


@pytest.mark.parametrize("raw", ["mon\u0430", "\u0430dmin", "m\u03bfna", "\uff4dona", "moná"])
def test_confusable_look_alikes_are_refused_with_a_clear_message(raw):
    # Cyrillic а, Greek ο, fullwidth ｍ, accented á: each looks Latin but is not
    with pytest.raises(Invalid) as excinfo:
        handle_normalize(raw)

    assert excinfo.value.code == "handle_confusable"
    assert "looks like a Latin letter" in excinfo.value.fields["handle"][0]


def test_other_scripts_are_refused():
    with pytest.raises(Invalid) as excinfo:
        handle_normalize("منى")

    assert excinfo.value.code == "handle_confusable"
    assert "Latin letters a-z" in excinfo.value.fields["handle"][0]
