import pytest

from accounts.models import User
from moderation.models import BadDomain, KeywordRule
from moderation.seed import DEMO_MODERATOR, DEMO_RULES, seed_moderation

pytestmark = pytest.mark.django_db


def test_seed_creates_a_demo_moderator_and_rules_idempotently():
    seed_moderation()
    seed_moderation()

    moderator = User.objects.get(handle=DEMO_MODERATOR)
    assert (moderator.is_staff, moderator.has_perm("moderation.decide_case")) == (True, True)
    assert KeywordRule.objects.count() == len(DEMO_RULES)
    assert list(BadDomain.objects.values_list("domain", flat=True)) == ["scam.example"]
