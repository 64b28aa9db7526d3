"""Automatic checks: rules (each action), link and spam heuristics, the classifier interface."""

import pytest

from accounts.tests.factories import UserFactory
from daira.lib.errors import Invalid
from moderation import classifiers
from moderation.models import BadDomain, KeywordRule, RegexRule, TextFlag
from moderation.services import Verdict, text_check, text_enforce

pytestmark = pytest.mark.django_db


def test_clean_text_is_allowed_and_records_nothing():
    # given
    author = UserFactory()
    KeywordRule.objects.create(term="حمار", action="reject")

    # when
    verdict = text_check(actor=author, text="صباح الخير يا جماعة", context="post")

    # then
    assert verdict == Verdict(action="allow")
    assert TextFlag.objects.exists() is False


@pytest.mark.parametrize(
    ("action", "expected"),
    [("reject", ("reject", "keyword")), ("hold", ("hold", "keyword")), ("flag", ("allow", "flagged"))],
)
def test_keyword_rule_actions(action, expected):
    # given
    author = UserFactory()
    rule = KeywordRule.objects.create(term="spam", action=action, severity=2)

    # when
    verdict = text_check(actor=author, text="buy my SPAAAM", context="post")

    # then
    assert (verdict.action, verdict.reason) == expected
    assert verdict.rule_ids == (f"keyword:{rule.pk}",)
    assert verdict.flagged is (action == "flag")
    flag = TextFlag.objects.get()
    assert (flag.actor_id, flag.context, flag.action, flag.rule_ids) == (author.pk, "post", expected[0], [f"keyword:{rule.pk}"])


@pytest.mark.parametrize(
    "text",
    ["انت حمار", "انت حـمـار", "enta 7mar", "ح م ا ر", "إنتَ حِمار!!"],
)
def test_one_arabic_rule_catches_arabic_arabizi_and_spaced_spellings(text):
    # given
    rule = KeywordRule.objects.create(term="حمار", language="ar", action="reject")

    # when
    verdict = text_check(actor=UserFactory(), text=text, context="comment")

    # then
    assert (verdict.action, verdict.rule_ids) == ("reject", (f"keyword:{rule.pk}",))


def test_keyword_rule_does_not_match_inside_other_words():
    KeywordRule.objects.create(term="spam", action="reject")

    verdict = text_check(actor=UserFactory(), text="the spammer was banned", context="post")

    assert verdict.action == "allow"


def test_rule_limited_to_contexts_and_inactive_rules_are_ignored():
    # given
    KeywordRule.objects.create(term="promo", action="hold", contexts=["message"])
    KeywordRule.objects.create(term="deal", action="reject", is_active=False)

    # when
    in_post = text_check(actor=UserFactory(), text="promo deal", context="post")
    in_message = text_check(actor=UserFactory(), text="promo deal", context="message")

    # then
    assert in_post.action == "allow"
    assert in_message.action == "hold"


def test_strongest_finding_wins_and_every_rule_is_listed():
    # given
    flag = KeywordRule.objects.create(term="cheap", action="flag")
    hold = KeywordRule.objects.create(term="casino", action="hold")
    reject = RegexRule.objects.create(name="phone", pattern=r"\b01[0125]\d{8}\b", match_on="raw", action="reject")

    # when
    verdict = text_check(actor=UserFactory(), text="cheap casino call 01012345678", context="post")

    # then
    assert verdict.action == "reject"
    assert verdict.reason == "regex"
    assert set(verdict.rule_ids) == {f"keyword:{flag.pk}", f"keyword:{hold.pk}", f"regex:{reject.pk}"}
    assert verdict.flagged is True


def test_regex_rule_on_normalised_text_sees_arabic_indic_digits_as_ascii():
    rule = RegexRule.objects.create(name="phone", pattern=r"\b01[0125]\d{8}\b", action="hold")

    verdict = text_check(actor=UserFactory(), text="كلمني ٠١٠١٢٣٤٥٦٧٨", context="post")

    assert (verdict.action, verdict.rule_ids) == ("hold", (f"regex:{rule.pk}",))


def test_bad_domain_and_its_subdomains_are_rejected():
    # given
    BadDomain.objects.create(domain="WWW.Scam.Example")

    # when
    verdicts = [
        text_check(actor=UserFactory(), text=text, context="post")
        for text in ["see https://scam.example/win", "go to free.scam.example now", "www.scam.example"]
    ]

    # then
    assert [(v.action, v.reason) for v in verdicts] == [("reject", "bad_domain")] * 3


def test_unrelated_domain_is_not_bad():
    BadDomain.objects.create(domain="scam.example")

    verdict = text_check(actor=UserFactory(), text="https://notscam.example.org/x", context="post")

    assert verdict.action == "allow"


def test_too_many_links_is_held(settings):
    settings.MODERATION_MAX_LINKS = 2

    verdict = text_check(actor=UserFactory(), text="a.com b.com https://c.net/x", context="post")

    assert (verdict.action, verdict.reason) == ("hold", "too_many_links")


def test_too_many_mentions_is_held(settings):
    settings.MODERATION_MAX_MENTIONS = 3

    verdict = text_check(actor=UserFactory(), text="@aaa @bbb @ccc @ddd hi", context="comment")

    assert (verdict.action, verdict.reason) == ("hold", "too_many_mentions")


def test_repeated_identical_text_is_held_after_the_limit(settings):
    # given
    settings.MODERATION_REPEAT_MAX = 3
    author, other = UserFactory(), UserFactory()
    text = "Follow me for free followers!!"

    # when
    first_three = [text_check(actor=author, text=text, context="comment").action for _ in range(3)]
    spelled_differently = text_check(actor=author, text="FOLLOW me for FREE followers", context="comment")
    someone_else = text_check(actor=other, text=text, context="comment")

    # then
    assert first_three == ["allow", "allow", "allow"]
    assert (spelled_differently.action, spelled_differently.reason) == ("hold", "repeated_text")
    assert someone_else.action == "allow"


def test_short_texts_may_repeat(settings):
    settings.MODERATION_REPEAT_MAX = 1
    author = UserFactory()

    verdicts = [text_check(actor=author, text="شكرا", context="comment").action for _ in range(3)]

    assert verdicts == ["allow", "allow", "allow"]


def test_text_enforce_raises_content_rejected_for_reject():
    KeywordRule.objects.create(term="حمار", action="reject")

    with pytest.raises(Invalid) as caught:
        text_enforce(actor=UserFactory(), text="7mar", context="post", field="body")

    assert caught.value.code == "content_rejected"
    assert caught.value.fields == {"body": ["This text breaks the community rules and cannot be published."]}
    assert caught.value.extra == {"reason": "keyword"}


def test_text_enforce_returns_hold_and_allow_verdicts():
    KeywordRule.objects.create(term="casino", action="hold")
    author = UserFactory()

    held = text_enforce(actor=author, text="casino tonight", context="post")
    allowed = text_enforce(actor=author, text="football tonight", context="post")

    assert (held.held, allowed.allowed) == (True, True)


def test_no_classifier_is_registered():
    assert classifiers.registered() == ()


def test_classifier_registry_refuses_objects_without_the_interface():
    with pytest.raises(TypeError):
        classifiers.register(object())


class KeywordTestDouble:
    """A test double for the Protocol (not a model): holds texts containing 'xyzzy'."""

    name = "test-double"

    def classify(self, *, text, normalized, context):
        return classifiers.Classification(action="hold" if "xyzzy" in text.lower() else "allow", label="x", score=1.0)


def test_a_registered_classifier_is_consulted():
    # given
    double = KeywordTestDouble()
    classifiers.register(double)

    # when
    try:
        held = text_check(actor=UserFactory(), text="XYZZY", context="post")
        allowed = text_check(actor=UserFactory(), text="plain", context="post")
    finally:
        classifiers.unregister(double)

    # then
    assert (held.action, held.reason, held.rule_ids) == ("hold", "classifier", ("classifier:test-double",))
    assert allowed.action == "allow"
