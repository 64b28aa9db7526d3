"""Appeals: once per decision, REST and GraphQL; the appeals queue in the admin; reversal
restores (suspension lifted, shadowban lifted, content restored through the event)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from daira.lib.errors import Conflict, Invalid, NotFound, PermissionDenied
from moderation.models import Appeal, AuditLog, Case, Decision
from moderation.services import appeal_create, appeal_decide, case_decide, decision_reverse, report_create
from social.selectors import is_shadowbanned

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(post_of, moderator):
    """`decided(decision)` → (Decision, author) on a freshly reported stand-in post."""

    def make(decision):
        author = UserFactory()
        post = post_of(author, "something")
        report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="spam")
        case = Case.objects.get(object_id=post.pk)
        return case_decide(actor=moderator, case_id=case.pk, decision=decision, note="spam"), author

    return make


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_user_appeals_once(decided):
    # given
    decision, author = decided("warn")

    # when
    appeal = appeal_create(user=author, decision_id=decision.pk, text="I did nothing wrong")
    with pytest.raises(Conflict) as caught:
        appeal_create(user=author, decision_id=decision.pk, text="again")

    # then
    assert (appeal.status, appeal.user_id, appeal.decision_id) == ("pending", author.pk, decision.pk)
    assert caught.value.code == "already_appealed"
    assert Appeal.objects.count() == 1
    assert AuditLog.objects.filter(action="appeal.created", actor=author).count() == 1


def test_others_cannot_appeal_a_decision_on_someone_else(decided):
    decision, _ = decided("warn")

    with pytest.raises(NotFound):
        appeal_create(user=UserFactory(), decision_id=decision.pk, text="let me")

    assert Appeal.objects.exists() is False


def test_a_dismissal_cannot_be_appealed(post_of, moderator):
    author = UserFactory()
    post = post_of(author)
    report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="spam")
    decision = case_decide(actor=moderator, case_id=Case.objects.get().pk, decision="dismiss", note="fine")

    with pytest.raises(NotFound):
        appeal_create(user=author, decision_id=decision.pk, text="?")


def test_appeal_window_closes(decided, settings):
    decision, author = decided("warn")
    Decision.objects.filter(pk=decision.pk).update(created_at=timezone.now() - timedelta(days=31))

    with pytest.raises(Invalid) as caught:
        appeal_create(user=author, decision_id=decision.pk, text="late")

    assert caught.value.code == "appeal_window_closed"


def test_reversing_a_suspension_lifts_it(decided, moderator, django_capture_on_commit_callbacks, emitted_events):
    # given
    decision, author = decided("suspend_30d")
    appeal = appeal_create(user=author, decision_id=decision.pk, text="hacked account")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        appeal_decide(actor=moderator, appeal_id=appeal.pk, reverse=True, note="owner proved the hack")

    # then
    author.refresh_from_db()
    decision.refresh_from_db()
    appeal.refresh_from_db()
    assert (author.status, author.suspended_until) == (User.Status.ACTIVE, None)
    assert decision.reversed_by_id == moderator.pk
    assert (appeal.status, appeal.reviewer_id, appeal.review_note) == ("reversed", moderator.pk, "owner proved the hack")
    case = decision.case
    assert [e for e in emitted_events if e[0].startswith("moderation.")] == [
        ("moderation.decided", {"case_id": case.pk, "decision": "restored", "target_app_label": "accounts",
                                "target_model": "profile", "target_id": case.object_id, "target_user_id": author.pk}),
        ("moderation.user_notified", {"user_id": author.pk, "kind": "appeal_decided", "decision_id": decision.pk,
                                      "decision": "reversed"}),
    ]
    reversal = AuditLog.objects.get(action="decision.reversed")
    assert (reversal.before["user_status"], reversal.after["user_status"]) == ("suspended", "active")
    assert AuditLog.objects.filter(action="appeal.reversed", actor=moderator).count() == 1


def test_reversing_a_limit_lifts_the_shadowban(decided, moderator):
    decision, author = decided("limit")
    assert is_shadowbanned(author.pk) is True

    decision_reverse(actor=moderator, decision_id=decision.pk, note="mistake")

    assert is_shadowbanned(author.pk) is False


def test_reversing_a_removal_restores_the_content(decided, moderator, django_capture_on_commit_callbacks,
                                                  emitted_events):
    decision, author = decided("remove")

    with django_capture_on_commit_callbacks(execute=True):
        decision_reverse(actor=moderator, decision_id=decision.pk, note="satire, allowed")

    assert [(name, payload["decision"]) for name, payload in emitted_events] == [("moderation.decided", "restored")]
    with pytest.raises(Conflict):
        decision_reverse(actor=moderator, decision_id=decision.pk, note="twice")


def test_reversal_keeps_a_suspension_another_decision_still_imposes(post_of, moderator):
    # given: two cases against one author, both suspended permanently
    author = UserFactory()
    decisions = []
    for _ in range(2):
        post = author.profile
        report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="hate")
        case = Case.objects.get(object_id=post.pk, status="open")
        decisions.append(case_decide(actor=moderator, case_id=case.pk, decision="suspend_permanent", note="hate"))

    # when
    decision_reverse(actor=moderator, decision_id=decisions[0].pk, note="first was wrong")

    # then
    author.refresh_from_db()
    assert author.status == User.Status.SUSPENDED


def test_upholding_changes_nothing_but_the_appeal(decided, moderator):
    decision, author = decided("suspend_7d")
    appeal = appeal_create(user=author, decision_id=decision.pk, text="please")

    appeal_decide(actor=moderator, appeal_id=appeal.pk, reverse=False, note="clear violation")

    author.refresh_from_db()
    appeal.refresh_from_db()
    assert (author.status, appeal.status) == (User.Status.SUSPENDED, "upheld")
    assert Decision.objects.get().reversed_at is None
    with pytest.raises(Conflict):
        appeal_decide(actor=moderator, appeal_id=appeal.pk, reverse=True, note="changed my mind")


def test_only_moderators_answer_appeals(decided, staff_without_group):
    decision, author = decided("warn")
    appeal = appeal_create(user=author, decision_id=decision.pk, text="please")

    with pytest.raises(PermissionDenied):
        appeal_decide(actor=staff_without_group, appeal_id=appeal.pk, reverse=True, note="x")

    appeal.refresh_from_db()
    assert appeal.status == "pending"


def test_appeals_queue_in_the_admin_reverses_with_a_note(decided, moderator):
    # given
    decision, author = decided("suspend_1d")
    appeal = appeal_create(user=author, decision_id=decision.pk, text="please")
    client = admin_client(moderator)

    # when
    queue = client.get("/admin/moderation/appeal/?status__exact=pending")
    confirm = client.post("/admin/moderation/appeal/", {"action": "appeal_reverse", "_selected_action": [str(appeal.pk)],
                                                        "index": 0})
    done = client.post("/admin/moderation/appeal/", {"action": "appeal_reverse", "_selected_action": [str(appeal.pk)],
                                                     "index": 0, "apply": "1", "note": "wrong account"})

    # then
    assert [a.pk for a in queue.context["cl"].result_list] == [appeal.pk]
    assert confirm.templates[0].name == "admin/moderation/note_form.html"
    assert done.status_code == 302
    appeal.refresh_from_db()
    author.refresh_from_db()
    assert (appeal.status, author.status) == ("reversed", User.Status.ACTIVE)


# --- REST and GraphQL -------------------------------------------------------------------------------


def test_rest_my_decisions_and_appeal(decided, auth_client):
    # given
    decision, author = decided("remove")
    client = auth_client(author)

    # when
    before = client.get("/api/v1/moderation/decisions").json()
    created = client.post(f"/api/v1/moderation/decisions/{decision.pk}/appeal", {"text": "it was a joke"})
    again = client.post(f"/api/v1/moderation/decisions/{decision.pk}/appeal", {"text": "again"})
    after = client.get("/api/v1/moderation/decisions").json()

    # then
    assert [(row["id"], row["decision"], row["can_appeal"], row["appeal"]) for row in before["results"]] == [
        (str(decision.pk), "remove", True, None)]
    assert created.status_code == 201
    assert (created.json()["status"], created.json()["decision_id"]) == ("pending", str(decision.pk))
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_appealed")
    row = after["results"][0]
    assert (row["can_appeal"], row["appeal"]["status"]) == (False, "pending")


@pytest.mark.parametrize("decision_id", ["1", str(1 << 70)])
def test_rest_appeal_of_an_unknown_decision_is_404(auth_client, decision_id):
    response = auth_client(UserFactory()).post(f"/api/v1/moderation/decisions/{decision_id}/appeal", {"text": "x"})

    assert response.status_code == 404


def test_rest_appeal_needs_text(decided, auth_client):
    decision, author = decided("warn")

    response = auth_client(author).post(f"/api/v1/moderation/decisions/{decision.pk}/appeal", {"text": ""})

    assert (response.status_code, Appeal.objects.exists()) == (400, False)


def test_reporter_sees_the_outcome_of_a_report(post_of, moderator, auth_client):
    reporter = UserFactory()
    post = post_of(UserFactory())
    report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="spam")
    case_decide(actor=moderator, case_id=Case.objects.get().pk, decision="remove", note="spam")

    rows = auth_client(reporter).get("/api/v1/reports").json()["results"]

    assert [row["status"] for row in rows] == ["actioned"]


APPEAL = """
mutation($id: ID!) { appealCreate(decisionId: $id, text: "not me") { appeal { status decisionId } errors { code } } }
"""


def test_graphql_decisions_and_appeal(decided, graphql):
    decision, author = decided("limit")

    listed = graphql("{ myModerationDecisions { results { id decision canAppeal reversed } } }", user=author)
    created = graphql(APPEAL, {"id": str(decision.pk)}, user=author)
    again = graphql(APPEAL, {"id": str(decision.pk)}, user=author)

    assert listed["data"]["myModerationDecisions"]["results"] == [
        {"id": str(decision.pk), "decision": "limit", "canAppeal": True, "reversed": False}]
    assert created["data"]["appealCreate"] == {"appeal": {"status": "pending", "decisionId": str(decision.pk)},
                                               "errors": []}
    assert again["data"]["appealCreate"] == {"appeal": None, "errors": [{"code": "already_appealed"}]}


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_graphql_appeal_text_that_postgres_cannot_store_is_invalid(decided, auth_client, text):
    # given: GraphQL strings are not checked by DRF fields (found by fuzzing: a database error)
    import json

    decision, author = decided("warn")
    body = json.dumps({
        "query": "mutation($id: ID!, $t: String!) { appealCreate(decisionId: $id, text: $t) { appeal { status } "
                 "errors { code } } }",
        "variables": {"id": str(decision.pk), "t": text},
    })

    # when
    response = auth_client(author).generic("POST", "/graphql/", body, content_type="application/json")

    # then
    assert response.json() == {"data": {"appealCreate": {"appeal": None, "errors": [{"code": "invalid"}]}}}
    assert Appeal.objects.exists() is False
