"""Text tools shared by moderation, search and content: Arabic normalisation, Arabizi
(Franco-Arabic) transliteration, Latin folding, match keys, mention and hashtag parsing.

Everything here is pure Python (the embedded Postgres has no `unaccent`), deterministic
and safe on any input string. The same pipeline must run on both sides of a comparison
(a moderation rule and the text it is matched against; an indexed document and a search
query), so the forms are *keys*, not display text.

Forms, from gentle to aggressive:

- `normalize_arabic(text)`: Arabic spelling variants folded (diacritics, tatweel, alef
  and hamza forms, alef maqsura, optionally ta marbuta, Arabic-Indic digits).
- `normalize_for_match(text)`: the primary match form. Arabic normalised, Latin words
  with Arabizi digits transliterated to Arabic letters, other Latin words folded (case,
  accents, leetspeak, repeated letters), punctuation dropped, whitespace collapsed.
- `match_variants(text)`: every form a rule should be tried against: the primary form,
  the other reading of ambiguous digit words ("s3x": Arabizi or leetspeak), and the
  "squashed" form joining spaced-out letters ("s p a m" → "spam").
- `arabic_skeleton(text)`: Arabic words without their inner long vowels and hamza seats,
  so the vowel spellings of Arabizi ("7abibi", "7bibi") meet the Arabic spelling (حبيبي).
  Too lossy for display or short words; `term_in_text` uses it only for terms of three
  or more consonants.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# --- Arabic -----------------------------------------------------------------------------

# Harakat, tanween, shadda, sukun, superscript alef, Quranic annotation marks.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u08d3-\u08ff]")
_TATWEEL = "\u0640"
_ARABIC_TABLE = str.maketrans(
    {
        "\u0623": "\u0627",  # أ → ا
        "\u0625": "\u0627",  # إ → ا
        "\u0622": "\u0627",  # آ → ا
        "\u0671": "\u0627",  # ٱ (wasla) → ا
        "\u0672": "\u0627",
        "\u0673": "\u0627",
        "\u0649": "\u064a",  # ى → ي
        "\u06cc": "\u064a",  # Persian yeh ی → ي
        "\u06d2": "\u064a",  # yeh barree
        "\u06a9": "\u0643",  # Persian keheh ک → ك
        "\u0624": "\u0621",  # ؤ → ء
        "\u0626": "\u0621",  # ئ → ء
        "\u06c0": "\u0647",  # heh with yeh above → ه
        "\u06d5": "\u0647",  # ae → ه
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian (Eastern) digits
        "\u060c": ",",  # Arabic comma
        "\u061b": ";",  # Arabic semicolon
        "\u061f": "?",  # Arabic question mark
        "\u066a": "%",
        "\u066b": ".",  # Arabic decimal separator
        "\u066c": ",",  # Arabic thousands separator
    }
)
_TA_MARBUTA = str.maketrans({"\u0629": "\u0647"})  # ة → ه

_ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3]")


def normalize_arabic(text: str, *, ta_marbuta: bool = True) -> str:
    """Fold Arabic spelling variants; other scripts pass through unchanged.

    Presentation forms and ligatures are unfolded (NFKC), diacritics and tatweel removed,
    أ إ آ ٱ → ا, ى → ي, ؤ ئ → ء, Persian ی ک → ي ك, Arabic-Indic and Persian digits →
    ASCII, Arabic punctuation → ASCII. With `ta_marbuta` (the default) ة → ه, because
    both are written for the same word ("مدرسة", "مدرسه").
    """
    text = unicodedata.normalize("NFKC", text)
    text = _ARABIC_MARKS.sub("", text).replace(_TATWEEL, "")
    text = text.translate(_ARABIC_TABLE)
    if ta_marbuta:
        text = text.translate(_TA_MARBUTA)
    return text


# --- Arabizi ----------------------------------------------------------------------------

# Longest first: "3'" before "3", "sh" before "s".
_ARABIZI_MULTI = [
    ("3'", "غ"), ("7'", "خ"), ("6'", "ظ"), ("9'", "ض"), ("2'", "ئ"),
    ("sh", "ش"), ("ch", "ش"), ("kh", "خ"), ("gh", "غ"), ("th", "ث"), ("dh", "ذ"),
    ("aa", "ا"), ("ee", "ي"), ("ii", "ي"), ("oo", "و"), ("ou", "و"), ("uu", "و"),
]
_ARABIZI_DIGITS = {"2": "ء", "3": "ع", "5": "خ", "6": "ط", "7": "ح", "8": "ق", "9": "ص"}
_ARABIZI_LETTERS = {
    "a": "ا", "b": "ب", "c": "ك", "d": "د", "e": "ي", "f": "ف", "g": "ج", "h": "ه", "i": "ي",
    "j": "ج", "k": "ك", "l": "ل", "m": "م", "n": "ن", "o": "و", "p": "ب", "q": "ق", "r": "ر",
    "s": "س", "t": "ت", "u": "و", "v": "ف", "w": "و", "x": "كس", "y": "ي", "z": "ز",
}
_SHORT_VOWELS = set("aeou")
_ARABIZI_WORD = re.compile(r"[a-z0-9']+")


def _arabizi_word(word: str) -> str:
    """Transliterate one lower-case Latin word letter by letter.

    Single a/e/o/u inside a word are short vowels, which Arabic does not write ("7abibi" →
    حبيبي); at the start of a word a vowel is an alef ("enta" → انت...); a final "a" is
    usually ta marbuta in Egyptian Arabizi ("7elwa" → حلوه, already the folded ة).
    """
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        for latin, arabic in _ARABIZI_MULTI:
            if word.startswith(latin, i):
                out.append(arabic)
                i += len(latin)
                break
        else:
            ch = word[i]
            if ch in _ARABIZI_DIGITS:
                out.append(_ARABIZI_DIGITS[ch])
            elif ch in _SHORT_VOWELS:
                if i == 0:
                    out.append("ا")
                elif i == n - 1 and ch == "a":
                    out.append("ه" if n > 3 else "ا")
                # otherwise a short vowel: not written
            elif ch in _ARABIZI_LETTERS:
                out.append(_ARABIZI_LETTERS[ch])
            elif ch.isdigit():
                out.append(ch)
            # other characters (stray apostrophes) are dropped
            i += 1
    return "".join(out)


def is_arabizi_word(word: str) -> bool:
    """A Latin word that carries an Arabizi digit (2 3 5 6 7 8 9) next to letters."""
    lowered = word.lower()
    return bool(re.search(r"[a-z]", lowered)) and bool(re.search(r"[2356789]", lowered)) and bool(
        re.fullmatch(r"[a-z0-9']+", lowered)
    )


def arabizi_to_arabic(word_or_text: str) -> str:
    """Transliterate the Arabizi words of `word_or_text` to Arabic letters.

    Only Latin words containing an Arabizi digit are touched ("ana 3ayez" → "ana عايز" is
    *not* what happens: "ana" has no digit and stays); numbers and other words pass
    through. The result is a match key, not a faithful spelling: Arabic vowels are
    guessed (see `arabic_skeleton` for the vowel-blind comparison).
    """

    def convert(match: re.Match[str]) -> str:
        word = match.group(0)
        return _arabizi_word(word) if is_arabizi_word(word) else word

    return _ARABIZI_WORD.sub(convert, word_or_text.lower())


# --- Latin ------------------------------------------------------------------------------

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_REPEATS = re.compile(r"(.)\1+")
_HAS_LATIN = re.compile(r"[a-z]")
_LEET_ONLY = re.compile(r"[014@$!]")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _fold_latin_word(word: str) -> str:
    if _HAS_LATIN.search(word):
        word = word.translate(_LEET)
    return _REPEATS.sub(r"\1", word)


def fold_latin(text: str) -> str:
    """Case-fold, strip accents, undo leetspeak inside words ("sp4m", "sh!t"), and collapse
    repeated letters ("sooo" → "so"). Pure numbers are left alone."""
    text = _strip_accents(text.casefold())
    return re.sub(r"[\w@$!]+", lambda m: _fold_latin_word(m.group(0)), text)


# --- the match pipeline -------------------------------------------------------------------

# A token: letters/digits, with inner leet symbols, and an Arabizi apostrophe after 2/3/6/7/9
# ("3'" is غ). A leading "$" is leetspeak ("$hit"); a leading "@" is a mention sign and dropped.
_TOKEN = re.compile(r"[^\W_]+(?:[@$!'][^\W_]+)*(?:(?<=[23679])')?|\$[^\W_]+")
_DIGITS_ONLY = re.compile(r"\d+")


def _collapse_repeats(token: str) -> str:
    return _REPEATS.sub(r"\1", token)


def _token_readings(token: str) -> tuple[str, str | None]:
    """(primary, alternative) readings of one lower-cased token."""
    if _DIGITS_ONLY.fullmatch(token):
        return token, None
    if _ARABIC_LETTER.search(token):
        return _collapse_repeats(token), None
    if not _HAS_LATIN.search(token):
        return _collapse_repeats(token), None
    has_digit = any(ch.isdigit() for ch in token)
    leet = _fold_latin_word(token.replace("'", ""))
    if not has_digit and not _LEET_ONLY.search(token):
        return leet, None
    plain = re.sub(r"[@$!]", "", token)
    if not is_arabizi_word(plain):
        return leet, None
    arabizi = _collapse_repeats(_arabizi_word(plain))
    # 2 6 8 9 are never leetspeak, and 3 5 7 alone are read as Arabizi (the rule);
    # with a leet-only sign (0 1 4 @ $ !) and only 3 5 7, leetspeak is the better guess.
    if re.search(r"[2689]", token) or not _LEET_ONLY.search(token):
        return arabizi, leet
    return leet, arabizi


@lru_cache(maxsize=4096)
def _readings(text: str) -> tuple[str, str]:
    # Stripping accents (NFKD) can expose letters the Arabic table folds (ۓ → ے + hamza):
    # fold again afterwards, so the result is a fixed point (normalising it changes nothing).
    text = normalize_arabic(_strip_accents(normalize_arabic(text).casefold()))
    primary: list[str] = []
    alternative: list[str] = []
    for token in _TOKEN.findall(text):
        first, second = _token_readings(token)
        if not first:
            continue
        primary.append(first)
        alternative.append(second or first)
    return " ".join(primary), " ".join(alternative)


def normalize_for_match(text: str) -> str:
    """The primary match form of `text` (see the module docstring). Idempotent."""
    return _readings(text)[0]


def squash_spaced(normalized: str) -> str:
    """Join runs of three or more single-character words ("s p a m" → "spam").

    Takes an already normalised string; spaced-out spellings are the classic way around
    keyword filters, while a lone letter ("a", "و") is ordinary text and stays.
    """
    tokens = normalized.split(" ")
    out: list[str] = []
    run: list[str] = []
    for token in tokens + [""]:
        if len(token) == 1:
            run.append(token)
            continue
        if len(run) >= 3:
            out.append(_collapse_repeats("".join(run)))
        else:
            out.extend(run)
        run = []
        if token:
            out.append(token)
    return " ".join(out)


def match_variants(text: str) -> list[str]:
    """Every distinct form a rule is tried against: primary, the other digit reading, squashed."""
    primary, alternative = _readings(text)
    forms: list[str] = []
    for form in (primary, alternative, squash_spaced(primary), squash_spaced(alternative)):
        if form and form not in forms:
            forms.append(form)
    return forms or [""]


_SKELETON_DROP = set("اويء")


def _skeleton_word(word: str) -> str:
    if not _ARABIC_LETTER.search(word) or len(word) < 2:
        return word
    head, tail = word[0], word[1:]
    if tail.endswith("ه"):  # ta marbuta (already folded) or the Arabizi final "a"
        tail = tail[:-1]
    return head + "".join(ch for ch in tail if ch not in _SKELETON_DROP)


def arabic_skeleton(normalized: str) -> str:
    """Arabic words of an already normalised string reduced to their consonants (the first
    letter always kept, inner ا و ي ء and a final ه dropped). Latin words pass through."""
    return " ".join(_skeleton_word(word) for word in normalized.split(" ") if word)


def match_key(text: str) -> str:
    """The most aggressive key: squashed, vowel-blind. Two spellings of one word share it."""
    return arabic_skeleton(squash_spaced(normalize_for_match(text)))


@dataclass(frozen=True)
class MatchForms:
    """A text prepared once for many term lookups (moderation rules)."""

    variants: tuple[str, ...]
    skeletons: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> MatchForms:
        variants = tuple(f" {form} " for form in match_variants(text))
        skeletons = tuple(dict.fromkeys(f" {arabic_skeleton(form.strip())} " for form in variants))
        return cls(variants=variants, skeletons=skeletons)


_MIN_SKELETON_CONSONANTS = 3


def term_in_text(term: str, text: str | MatchForms) -> bool:
    """True when `term` (a word or phrase, any spelling) occurs as whole words in `text`.

    Both are normalised with the same pipeline, so the rule "حمار" catches "حمار", "7mar",
    "حـمـار", "ح م ا ر"; "spam" catches "SPAAAM", "sp4m", "s p a m". The vowel-blind
    skeleton is used only for Arabic terms of three or more consonants, where a collision
    with an unrelated word is unlikely.
    """
    forms = text if isinstance(text, MatchForms) else MatchForms.of(text)
    for term_form in match_variants(term):
        if not term_form:
            continue
        needle = f" {term_form} "
        if any(needle in variant for variant in forms.variants):
            return True
        skeleton = arabic_skeleton(term_form)
        if (
            _ARABIC_LETTER.search(skeleton)
            and len(skeleton.replace(" ", "")) >= _MIN_SKELETON_CONSONANTS
            and any(f" {skeleton} " in variant for variant in forms.skeletons)
        ):
            return True
    return False


def search_variants(text: str) -> list[str]:
    """The forms to index a document under, or to query with: the primary match form, the
    other reading of Arabizi/leet words, the squashed form, and the vowel-blind skeleton
    (so "7abibi" finds "حبيبي"). Distinct, primary first; [""] for text with no words."""
    forms = match_variants(text)
    for form in list(forms):
        skeleton = arabic_skeleton(form)
        if skeleton and skeleton not in forms:
            forms.append(skeleton)
    return forms


# --- mentions and hashtags -------------------------------------------------------------

_MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_.]{1,64})")
_HANDLE_OK = re.compile(r"[a-z0-9_.]{3,30}")
_HASHTAG = re.compile(r"(?<![\w&#])[#＃]([^\W]{1,100})")


def extract_mentions(text: str) -> list[str]:
    """Handles mentioned as @handle (3–30 of a-z 0-9 _ .), lower-cased, distinct, in order.

    E-mail addresses ("a@b.com") are not mentions; a trailing dot ends the sentence, not
    the handle ("hi @mona." → "mona").
    """
    found: list[str] = []
    for match in _MENTION.finditer(text or ""):
        handle = match.group(1).rstrip(".").lower()
        if _HANDLE_OK.fullmatch(handle) and handle not in found:
            found.append(handle)
    return found


def normalize_hashtag(tag: str) -> str:
    """The stored form of a hashtag (without '#'): Arabic-normalised and case-folded."""
    return normalize_arabic(tag.lstrip("#＃")).casefold()


def extract_hashtags(text: str) -> list[str]:
    """Hashtags in `text`, normalised (so #مصر and #مَصر, #Cairo and #cairo are one tag),
    distinct, in order. Arabic, Latin and mixed tags with underscores (#رمضان_كريم) are
    recognised; a tag needs at least one letter (#2024 is not a tag)."""
    # Diacritics and tatweel are not word characters: remove them before matching.
    prepared = normalize_arabic(text or "")
    found: list[str] = []
    for match in _HASHTAG.finditer(prepared):
        tag = match.group(1).strip("_").casefold()
        if tag and any(ch.isalpha() for ch in tag) and tag not in found:
            found.append(tag)
    return found
