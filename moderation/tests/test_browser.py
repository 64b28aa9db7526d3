"""The review queue in a real browser: log in to /admin/ as a moderator, open a case, remove
the content.

The browser is Debian's headless Chromium driven by Selenium through Debian's chromedriver
(never a downloaded browser). `make test` installs both first when they are missing and it
runs as root (the Makefile's `browser` target: apt-get install chromium chromium-driver);
by hand: `apt-get update && apt-get install -y chromium chromium-driver`. This test installs
nothing itself and skips, saying so, only when the browser is not there.
"""

import pytest

from accounts.tests.factories import UserFactory
from moderation.models import AuditLog, Case, Decision
from moderation.services import report_create

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_moderator_removes_reported_content_in_the_browser(live_server, browser, settings, moderator, post_of):
    from selenium.webdriver.common.by import By

    # given: plain-HTTP live server, so the session and CSRF cookies may not be "Secure"
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    author = UserFactory()
    post = post_of(author, "اشتري متابعين رخيص — buy followers")
    for reporter in UserFactory.create_batch(2):
        report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="spam")
    case = Case.objects.get()

    # when: log in as the moderator
    browser.get(f"{live_server.url}/admin/login/?next=/admin/moderation/case/")
    browser.find_element(By.ID, "id_username").send_keys(moderator.handle)
    browser.find_element(By.ID, "id_password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # open the case from the queue
    browser.find_element(By.CSS_SELECTOR, f"#result_list a[href$='/moderation/case/{case.pk}/change/']").click()
    preview = browser.find_element(By.CSS_SELECTOR, "#target-preview .target-text").text
    # remove the content, with the required note
    browser.find_element(By.CSS_SELECTOR, "a.decide-remove").click()
    browser.find_element(By.ID, "id_note").send_keys("Spam: selling followers")
    browser.find_element(By.CSS_SELECTOR, "input[name=confirm]").click()
    message = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.success").text

    # then
    assert preview == "اشتري متابعين رخيص — buy followers"
    assert message == f"Case {case.pk}: Remove content."
    assert browser.current_url == f"{live_server.url}/admin/moderation/case/"
    case.refresh_from_db()
    decision = Decision.objects.get()
    assert (case.status, decision.kind, decision.actor_id, decision.note) == (
        "actioned", "remove", moderator.pk, "Spam: selling followers")
    assert AuditLog.objects.get(action="case.remove").after["content_removed"] is True
