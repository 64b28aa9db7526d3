"""The review queue in the Django admin, driven through the test client as a moderator:
every decision, bulk decisions, the required note, permissions, the audit log CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from moderation.models import AuditLog, Case, Decision, KeywordRule, Report
from moderation.services import case_decide, report_create
from social.selectors import is_shadowbanned

pytestmark = pytest.mark.django_db

DECIDE = "/admin/moderation/case/{}/decide/{}/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reported_post(post_of):
    """`reported_post(text)` → (case, author) for a stand-in post reported once."""

    def make(text="buy followers cheap"):
        author = UserFactory()
        post = post_of(author, text)
        report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="spam")
        return Case.objects.get(object_id=post.pk), author

    return make


def test_moderator_sees_the_queue_ordered_by_priority(moderator, post_of):
    # given
    low, high = post_of(UserFactory()), post_of(UserFactory())
    report_create(reporter=UserFactory(), target_type="post", target_id=low.pk, reason="spam")
    report_create(reporter=UserFactory(), target_type="post", target_id=high.pk, reason="violence")

    # when
    response = client_for(moderator).get("/admin/moderation/case/")

    # then
    assert response.status_code == 200
    assert [case.object_id for case in response.context["cl"].result_list] == [high.pk, low.pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("status__exact=open", 2), ("reason__exact=violence", 1), ("priority=urgent", 0), ("priority=high", 1),
     ("age=1h", 2), ("age=older", 0), ("target_type__exact=post", 2), ("target_type__exact=message", 0)],
)
def test_queue_filters(moderator, post_of, query, expected):
    for reason in ("spam", "violence"):
        post = post_of(UserFactory())
        report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason=reason)

    response = client_for(moderator).get(f"/admin/moderation/case/?{query}")

    assert response.status_code == 200
    assert response.context["cl"].result_count == expected


def test_case_page_previews_the_target_and_offers_decisions(moderator, reported_post):
    case, _ = reported_post("Cheap followers here")

    response = client_for(moderator).get(f"/admin/moderation/case/{case.pk}/change/")

    assert response.status_code == 200
    assert response.context["target_preview"]["text"] == "Cheap followers here"
    assert response.context["target_preview"]["admin_url"] is None  # no accounts permission
    assert DECIDE.format(case.pk, "remove").encode() in response.content
    assert b"Cheap followers here" in response.content


@pytest.mark.parametrize(
    ("decision", "case_status", "notified"),
    [
        ("dismiss", "dismissed", False),
        ("warn", "actioned", True),
        ("limit", "actioned", True),
        ("remove", "actioned", True),
        ("suspend_1d", "actioned", True),
        ("suspend_7d", "actioned", True),
        ("suspend_30d", "actioned", True),
        ("suspend_permanent", "actioned", True),
    ],
)
def test_every_decision_through_the_admin(decision, case_status, notified, moderator, reported_post,
                                          django_capture_on_commit_callbacks, emitted_events):
    # given
    case, author = reported_post()
    client = client_for(moderator)

    # when
    form = client.get(DECIDE.format(case.pk, decision))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DECIDE.format(case.pk, decision), {"note": "rule 3: spam"})

    # then
    assert form.status_code == 200
    assert (response.status_code, response["Location"]) == (302, "/admin/moderation/case/")
    case.refresh_from_db()
    made = Decision.objects.get()
    assert (case.status, made.kind, made.actor_id, made.target_user_id, made.note) == (
        case_status, decision, moderator.pk, author.pk, "rule 3: spam")
    assert list(Report.objects.values_list("status", flat=True)) == ["dismissed" if decision == "dismiss" else "actioned"]
    audit = AuditLog.objects.get(action=f"case.{decision}")
    assert (audit.actor_id, audit.case_id, audit.target_user_id, audit.note) == (moderator.pk, case.pk, author.pk,
                                                                                 "rule 3: spam")
    assert audit.before["case_status"] == "open"
    assert audit.after["case_status"] == case_status
    decided = ("moderation.decided", {"case_id": case.pk, "decision": decision, "target_app_label": "accounts",
                                      "target_model": "profile", "target_id": case.object_id,
                                      "target_user_id": author.pk})
    notice = ("moderation.user_notified", {"user_id": author.pk, "kind": "decision", "decision_id": made.pk,
                                           "decision": decision})
    moderation_events = [e for e in emitted_events if e[0].startswith("moderation.")]
    assert moderation_events == ([decided, notice] if notified else [decided])


def test_limit_shadowbans_the_author(moderator, reported_post):
    case, author = reported_post()

    client_for(moderator).post(DECIDE.format(case.pk, "limit"), {"note": "spam ring"})

    assert is_shadowbanned(author.pk) is True
    audit = AuditLog.objects.get(action="case.limit")
    assert (audit.before["shadowbanned"], audit.after["shadowbanned"]) == (False, True)


@pytest.mark.parametrize(("decision", "days"), [("suspend_1d", 1), ("suspend_7d", 7), ("suspend_30d", 30),
                                                ("suspend_permanent", None)])
def test_suspensions_suspend_the_author_for_their_length(decision, days, moderator, reported_post):
    # given
    case, author = reported_post()
    started = timezone.now()

    # when
    client_for(moderator).post(DECIDE.format(case.pk, decision), {"note": "repeat offender"})

    # then
    author.refresh_from_db()
    assert author.status == User.Status.SUSPENDED
    if days is None:
        assert author.suspended_until is None
    else:
        assert started + timedelta(days=days) <= author.suspended_until <= timezone.now() + timedelta(days=days)
    audit = AuditLog.objects.get(action=f"case.{decision}")
    assert (audit.before["user_status"], audit.after["user_status"]) == ("active", "suspended")


def test_remove_records_the_removal(moderator, reported_post):
    case, _ = reported_post()

    client_for(moderator).post(DECIDE.format(case.pk, "remove"), {"note": "nudity"})

    assert AuditLog.objects.get(action="case.remove").after["content_removed"] is True


def test_a_decision_needs_a_note(moderator, reported_post):
    case, author = reported_post()

    response = client_for(moderator).post(DECIDE.format(case.pk, "suspend_7d"), {"note": "   "})

    assert response.status_code == 200
    assert response.context["form"].errors == {"note": ["This field is required."]}
    case.refresh_from_db()
    author.refresh_from_db()
    assert (case.status, author.status, Decision.objects.exists(), AuditLog.objects.exists()) == (
        "open", "active", False, False)


def test_a_decided_case_cannot_be_decided_again(moderator, reported_post):
    case, _ = reported_post()
    client = client_for(moderator)
    client.post(DECIDE.format(case.pk, "warn"), {"note": "first"}, follow=True)

    response = client.post(DECIDE.format(case.pk, "suspend_1d"), {"note": "second"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == ["This case has already been decided."]
    assert list(Decision.objects.values_list("kind", flat=True)) == ["warn"]


def test_a_profile_cannot_be_removed(moderator, stand_in_targets):
    target = UserFactory()
    report_create(reporter=UserFactory(), target_type="profile", target_id=target.pk, reason="hate")
    case = Case.objects.get()

    client_for(moderator).post(DECIDE.format(case.pk, "remove"), {"note": "x"})

    case.refresh_from_db()
    assert (case.status, Decision.objects.exists()) == ("open", False)


def test_bulk_decision_with_a_note(moderator, reported_post, django_capture_on_commit_callbacks, emitted_events):
    # given
    first, _ = reported_post()
    second, _ = reported_post()
    done, _ = reported_post()
    case_decide(actor=moderator, case_id=done.pk, decision="dismiss", note="earlier")
    client = client_for(moderator)
    ids = [str(first.pk), str(second.pk), str(done.pk)]

    # when
    confirm = client.post("/admin/moderation/case/", {"action": "decide_warn", "_selected_action": ids, "index": 0})
    with django_capture_on_commit_callbacks(execute=True):
        applied = client.post("/admin/moderation/case/", {"action": "decide_warn", "_selected_action": ids,
                                                          "index": 0, "apply": "1", "note": "bulk spam"}, follow=True)

    # then
    assert confirm.status_code == 200
    assert confirm.templates[0].name == "admin/moderation/note_form.html"
    assert applied.status_code == 200
    assert sorted(Decision.objects.filter(kind="warn").values_list("case_id", flat=True)) == sorted([first.pk, second.pk])
    assert AuditLog.objects.filter(action="case.warn").count() == 2
    assert [e[1]["case_id"] for e in emitted_events if e[0] == "moderation.decided"] == [first.pk, second.pk]


def test_bulk_decision_without_a_note_changes_nothing(moderator, reported_post):
    case, _ = reported_post()

    response = client_for(moderator).post("/admin/moderation/case/", {
        "action": "decide_suspend_30d", "_selected_action": [str(case.pk)], "index": 0, "apply": "1", "note": ""})

    assert response.status_code == 200
    assert response.context["form"].errors == {"note": ["This field is required."]}
    assert Decision.objects.exists() is False


# --- permissions ---------------------------------------------------------------------------------


def test_non_staff_user_is_sent_to_the_login_page(reported_post):
    case, _ = reported_post()
    client = client_for(UserFactory())

    queue = client.get("/admin/moderation/case/")
    decide = client.post(DECIDE.format(case.pk, "suspend_1d"), {"note": "x"})

    assert (queue.status_code, queue["Location"]) == (302, "/admin/login/?next=/admin/moderation/case/")
    assert decide.status_code == 302
    assert Decision.objects.exists() is False


def test_staff_without_the_moderator_group_is_refused(staff_without_group, reported_post):
    case, _ = reported_post()
    client = client_for(staff_without_group)

    queue = client.get("/admin/moderation/case/")
    page = client.get(f"/admin/moderation/case/{case.pk}/change/")
    decide = client.post(DECIDE.format(case.pk, "suspend_1d"), {"note": "x"})

    assert (queue.status_code, page.status_code, decide.status_code) == (403, 403, 403)
    assert Decision.objects.exists() is False


def test_moderator_reads_rules_but_only_superusers_edit_them(moderator, superuser):
    rule = KeywordRule.objects.create(term="spam", action="hold")
    mod, root = client_for(moderator), client_for(superuser)

    assert mod.get("/admin/moderation/keywordrule/").status_code == 200
    assert mod.get("/admin/moderation/keywordrule/add/").status_code == 403
    assert mod.post(f"/admin/moderation/keywordrule/{rule.pk}/delete/", {"post": "yes"}).status_code == 403
    assert root.get("/admin/moderation/keywordrule/add/").status_code == 200
    added = root.post("/admin/moderation/keywordrule/add/", {"term": "كازينو", "language": "ar", "severity": 3,
                                                           "action": "reject", "contexts": "", "is_active": "on",
                                                           "note": ""})
    assert added.status_code == 302, added.context["adminform"].form.errors
    created = KeywordRule.objects.get(term="كازينو")
    assert AuditLog.objects.get(action="keywordrule.added").after["term"] == "كازينو"
    assert created.normalized == "كازينو"


def test_moderators_cannot_open_direct_messages_unless_reported(moderator, message_of):
    # given: a reported and an unreported message (stand-in: see conftest)
    sender, recipient = UserFactory(), UserFactory()
    reported = message_of(sender, "you are a donkey", members=[recipient])
    unreported = message_of(sender, "private chat", members=[recipient])
    report_create(reporter=recipient, target_type="message", target_id=reported.pk, reason="harassment")
    case = Case.objects.get()
    client = client_for(moderator)

    # when
    via_case = client.get(f"/admin/moderation/case/{case.pk}/change/")
    direct = client.get(f"/admin/social/circle/{unreported.pk}/change/")

    # then: the reported text is shown inside its case, with no link out; nothing else opens
    assert via_case.status_code == 200
    assert via_case.context["target_preview"]["text"] == "you are a donkey"
    assert via_case.context["target_preview"]["admin_url"] is None
    assert direct.status_code == 403
    assert b"private chat" not in via_case.content
    assert set(moderator.groups.get().permissions.values_list("content_type__app_label", flat=True)) == {"moderation"}


# --- audit log export ------------------------------------------------------------------------------


def test_audit_log_csv_export(superuser, moderator, reported_post):
    # given
    case, author = reported_post()
    case_decide(actor=moderator, case_id=case.pk, decision="suspend_7d", note="=HYPERLINK(\"x\") مخالفة")
    rows = list(AuditLog.objects.values_list("pk", flat=True))

    # when
    response = client_for(superuser).post("/admin/moderation/auditlog/", {
        "action": "export_csv", "_selected_action": [str(pk) for pk in rows], "index": 0})

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="moderation-audit-')
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0] == ["id", "created_at", "actor", "action", "case_id", "target_type", "target_id", "target_user",
                        "note", "before", "after"]
    assert len(table) == 2
    row = dict(zip(table[0], table[1]))
    assert (row["actor"], row["action"], row["case_id"], row["target_type"], row["target_user"]) == (
        moderator.handle, "case.suspend_7d", str(case.pk), "accounts.profile", author.handle)
    assert row["note"] == "'=HYPERLINK(\"x\") مخالفة"  # formula neutralised, Arabic kept
    assert '"user_status": "suspended"' in row["after"]
    assert AuditLog.objects.filter(action="auditlog.exported", actor=superuser).count() == 1


def test_moderators_cannot_export_the_audit_log(moderator):
    response = client_for(moderator).get("/admin/moderation/auditlog/")

    assert response.status_code == 200
    assert response.context["action_form"] is None  # no action (the CSV export) is offered


# --- read-only restrictions ----------------------------------------------------------------------


def test_moderator_makes_an_account_read_only_and_lifts_it(moderator):
    # given
    from moderation.models import AccountRestriction
    from moderation.selectors import account_post_block_reason

    target = UserFactory()
    client = client_for(moderator)

    # when
    added = client.post("/admin/moderation/accountrestriction/add/", {"user": str(target.pk), "until_0": "",
                                                                      "until_1": "", "reason": "spam wave"})
    restricted = account_post_block_reason(user=target)
    restriction = AccountRestriction.objects.get()
    lifted = client.post("/admin/moderation/accountrestriction/", {
        "action": "lift", "_selected_action": [str(restriction.pk)], "index": 0, "apply": "1", "note": "calmed down"})

    # then
    assert (added.status_code, lifted.status_code) == (302, 302)
    assert (restriction.user_id, restriction.created_by_id, restriction.until) == (target.pk, moderator.pk, None)
    assert restricted == "limited"
    assert account_post_block_reason(user=target) is None
    assert list(AuditLog.objects.order_by("id").values_list("action", "note")) == [
        ("restriction.set", "spam wave"), ("restriction.lifted", "calmed down")]


def test_staff_without_the_group_cannot_restrict(staff_without_group):
    from moderation.models import AccountRestriction

    target = UserFactory()

    response = client_for(staff_without_group).post("/admin/moderation/accountrestriction/add/",
                                                    {"user": str(target.pk), "reason": "x"})

    assert (response.status_code, AccountRestriction.objects.exists()) == (403, False)


@pytest.mark.parametrize("query", ["abc", "99999999999999999999999", "mod_mona"])
def test_queue_search_with_any_input_is_not_an_error(moderator, query):
    response = client_for(moderator).get("/admin/moderation/case/", {"q": query})

    assert (response.status_code, response.context["cl"].result_count) == (200, 0)
