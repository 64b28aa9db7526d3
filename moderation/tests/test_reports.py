"""Reports: validation, one open report per reporter and target, grouping into cases,
priority, the auto-hide threshold, private targets; REST and GraphQL."""

import pytest

from accounts.tests.factories import UserFactory
from daira.lib.errors import Conflict, Invalid, NotFound
from moderation.models import Case, Report
from moderation.services import report_create

pytestmark = pytest.mark.django_db


def test_report_opens_a_case_for_the_target(post_of):
    # given
    author, reporter = UserFactory(), UserFactory()
    post = post_of(author, "buy followers")

    # when
    report = report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="spam", note="bot")

    # then
    case = Case.objects.get()
    assert report.case_id == case.pk
    assert (case.target_type, case.object_id, case.target_user_id, case.status) == ("post", post.pk, author.pk, "open")
    assert (case.reason, case.report_count, case.reporter_count) == ("spam", 1, 1)
    assert (report.content_type.app_label, report.content_type.model) == ("accounts", "profile")


def test_reports_on_one_target_share_one_case(post_of):
    author = UserFactory()
    post = post_of(author)

    for reporter in UserFactory.create_batch(2):
        report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="spam")

    case = Case.objects.get()
    assert (case.report_count, case.reporter_count, Report.objects.filter(case=case).count()) == (2, 2, 2)


def test_a_second_open_report_by_the_same_reporter_is_refused(post_of):
    # given
    reporter = UserFactory()
    post = post_of(UserFactory())
    report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="spam")

    # when
    with pytest.raises(Conflict) as caught:
        report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="hate")

    # then
    assert caught.value.code == "already_reported"
    assert Report.objects.count() == 1
    assert Case.objects.get().reason == "spam"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"target_type": "profile", "reason": "boring"}, Invalid),
        ({"target_type": "planet", "reason": "spam"}, Invalid),
        ({"target_type": "profile", "reason": "spam", "note": "x" * 1001}, Invalid),
    ],
)
def test_invalid_reports_write_nothing(kwargs, error, stand_in_targets):
    target = UserFactory()

    with pytest.raises(error):
        report_create(reporter=UserFactory(), target_id=target.pk, **kwargs)

    assert (Report.objects.exists(), Case.objects.exists()) == (False, False)


def test_type_whose_app_is_not_installed_cannot_be_reported(stand_in_targets, monkeypatch):
    # given: a target type naming a model no installed app provides
    from moderation import targets

    monkeypatch.setitem(stand_in_targets, "story", targets.TargetType("story", "nowhere.Story", ("author_id",)))

    # when
    with pytest.raises(Invalid) as caught:
        report_create(reporter=UserFactory(), target_type="story", target_id=1, reason="spam")

    # then
    assert caught.value.fields == {"target_type": ["story targets cannot be reported yet."]}
    assert Case.objects.exists() is False


def test_missing_target_is_not_found(stand_in_targets):
    with pytest.raises(NotFound):
        report_create(reporter=UserFactory(), target_type="profile", target_id=123456789, reason="spam")


def test_reporting_yourself_is_refused(post_of):
    user = UserFactory()

    with pytest.raises(Invalid) as caught:
        report_create(reporter=user, target_type="post", target_id=post_of(user).pk, reason="spam")

    assert caught.value.code == "own_target"


def test_priority_rises_with_severity_count_and_reliability(post_of):
    # given
    spam_post, harm_post = post_of(UserFactory()), post_of(UserFactory())

    # when
    report_create(reporter=UserFactory(), target_type="post", target_id=spam_post.pk, reason="spam")
    report_create(reporter=UserFactory(), target_type="post", target_id=harm_post.pk, reason="self_harm")
    spam_case = Case.objects.get(object_id=spam_post.pk)
    harm_case = Case.objects.get(object_id=harm_post.pk)
    before = spam_case.priority
    report_create(reporter=UserFactory(), target_type="post", target_id=spam_post.pk, reason="spam")
    spam_case.refresh_from_db()

    # then: 20 × severity + 3 × reports + 4 × summed reliability (0.5 for newcomers)
    assert (before, harm_case.priority, spam_case.priority) == (20 + 3 + 2, 100 + 3 + 2, 20 + 6 + 4)
    assert list(Case.objects.order_by("-priority").values_list("pk", flat=True)) == [harm_case.pk, spam_case.pk]


def test_the_worst_reason_heads_the_case(post_of):
    post = post_of(UserFactory())
    report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="spam")
    report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="violence")

    assert Case.objects.get().reason == "violence"


def test_target_is_hidden_once_after_n_distinct_reporters(post_of, settings, django_capture_on_commit_callbacks,
                                                            emitted_events):
    # given
    settings.MODERATION_AUTO_HIDE_REPORTERS = 3
    post = post_of(UserFactory())
    reporters = UserFactory.create_batch(4)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        for reporter in reporters[:2]:
            report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="hate")
    hidden_after_two = Case.objects.get().hidden_at
    with django_capture_on_commit_callbacks(execute=True):
        for reporter in reporters[2:]:
            report_create(reporter=reporter, target_type="post", target_id=post.pk, reason="hate")

    # then
    assert hidden_after_two is None
    assert Case.objects.get().hidden_at is not None
    assert emitted_events == [("moderation.target_hidden", {"content_type": "accounts.profile", "object_id": post.pk})]


def test_private_target_needs_the_reporter_to_see_it(message_of):
    # given
    sender, recipient, stranger = UserFactory(), UserFactory(), UserFactory()
    message = message_of(sender, "you are a donkey", members=[recipient])

    # when
    with pytest.raises(NotFound):
        report_create(reporter=stranger, target_type="message", target_id=message.pk, reason="harassment")
    report = report_create(reporter=recipient, target_type="message", target_id=message.pk, reason="harassment")

    # then
    assert (report.target_type, report.case.target_user_id) == ("message", sender.pk)


def test_private_type_without_an_access_check_is_refused(message_of, stand_in_targets):
    # given: messaging has not registered its check (fail closed)
    sender, recipient = UserFactory(), UserFactory()
    message = message_of(sender, "hi", members=[recipient])
    stand_in_targets["message"].access_check = None

    # then
    with pytest.raises(Invalid):
        report_create(reporter=recipient, target_type="message", target_id=message.pk, reason="spam")


# --- REST -----------------------------------------------------------------------------------------


def test_rest_report_and_my_reports(auth_client, post_of):
    # given
    reporter = UserFactory()
    post = post_of(UserFactory())
    client = auth_client(reporter)

    # when
    created = client.post("/api/v1/reports", {"target_type": "post", "target_id": str(post.pk), "reason": "nudity",
                                              "note": "please check"})
    mine = client.get("/api/v1/reports")

    # then
    assert created.status_code == 201
    body = created.json()
    assert {k: body[k] for k in ("target_type", "target_id", "reason", "note", "status")} == {
        "target_type": "post", "target_id": str(post.pk), "reason": "nudity", "note": "please check", "status": "open",
    }
    assert mine.status_code == 200
    assert [row["id"] for row in mine.json()["results"]] == [body["id"]]
    assert mine.json()["next_cursor"] is None


def test_rest_my_reports_shows_only_mine(auth_client, post_of):
    post = post_of(UserFactory())
    report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="spam")

    response = auth_client(UserFactory()).get("/api/v1/reports")

    assert response.json() == {"results": [], "next_cursor": None}


@pytest.mark.parametrize(
    "payload",
    [
        {"target_type": "post", "target_id": "abc", "reason": "spam"},
        {"target_type": "post", "target_id": str(1 << 70), "reason": "spam"},
        {"target_type": "planet", "target_id": "1", "reason": "spam"},
        {"target_type": "post", "target_id": "1", "reason": "meh"},
        {},
    ],
)
def test_rest_bad_input_is_400(auth_client, payload, stand_in_targets):
    response = auth_client(UserFactory()).post("/api/v1/reports", payload)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_rest_duplicate_report_is_409(auth_client, post_of):
    reporter = UserFactory()
    post = post_of(UserFactory())
    client = auth_client(reporter)
    client.post("/api/v1/reports", {"target_type": "post", "target_id": str(post.pk), "reason": "spam"})

    response = client.post("/api/v1/reports", {"target_type": "post", "target_id": str(post.pk), "reason": "spam"})

    assert (response.status_code, response.json()["error"]["code"]) == (409, "already_reported")


def test_rest_requires_authentication(api_client):
    assert api_client.get("/api/v1/reports").status_code == 401
    assert api_client.post("/api/v1/reports", {}).status_code == 401


# --- GraphQL ----------------------------------------------------------------------------------------

REPORT = """
mutation($type: String!, $id: ID!, $reason: ReportReason!) {
  reportCreate(targetType: $type, targetId: $id, reason: $reason, note: "bad") {
    report { id targetType targetId reason status }
    errors { code field }
  }
}"""


def test_graphql_report_and_my_reports(graphql, post_of):
    # given
    reporter = UserFactory()
    post = post_of(UserFactory())

    # when
    created = graphql(REPORT, {"type": "post", "id": str(post.pk), "reason": "HATE"}, user=reporter)
    again = graphql(REPORT, {"type": "post", "id": str(post.pk), "reason": "HATE"}, user=reporter)
    mine = graphql("{ myReports { results { id status reason } nextCursor } }", user=reporter)

    # then
    report = created["data"]["reportCreate"]["report"]
    assert {k: report[k] for k in ("targetType", "targetId", "reason", "status")} == {
        "targetType": "post", "targetId": str(post.pk), "reason": "hate", "status": "open",
    }
    assert again["data"]["reportCreate"] == {"report": None, "errors": [{"code": "already_reported", "field": None}]}
    assert mine["data"]["myReports"] == {"results": [{"id": report["id"], "status": "open", "reason": "hate"}],
                                         "nextCursor": None}


def test_graphql_report_with_a_bad_id_returns_errors(graphql, stand_in_targets):
    result = graphql(REPORT, {"type": "post", "id": "nope", "reason": "SPAM"}, user=UserFactory())

    assert result["data"]["reportCreate"]["errors"] == [{"code": "invalid", "field": "target_id"}]


def test_held_text_is_queued_as_an_automatic_case(post_of):
    # given: a writer saved a held post hidden and queues it
    from moderation.models import AuditLog
    from moderation.services import Verdict, case_open_for_hold

    author = UserFactory()
    post = post_of(author, "casino tonight")
    verdict = Verdict(action="hold", reason="keyword", rule_ids=("keyword:7",), reasons=("keyword",))

    # when
    case = case_open_for_hold(target_type="post", target_id=post.pk, verdict=verdict)
    report_create(reporter=UserFactory(), target_type="post", target_id=post.pk, reason="spam")

    # then
    case.refresh_from_db()
    assert (case.reason, case.target_user_id, case.hidden_at is not None, case.report_count) == (
        "spam", author.pk, True, 1)
    assert Case.objects.count() == 1
    audit = AuditLog.objects.get(action="case.held_automatically")
    assert (audit.actor_id, audit.note, audit.after["rule_ids"]) == (None, "keyword: keyword:7", ["keyword:7"])


@pytest.mark.parametrize("note", ["a\x00b", "\ud800"])
def test_graphql_report_note_that_postgres_cannot_store_is_invalid(auth_client, post_of, note):
    # given: GraphQL strings are not checked by DRF fields (found by fuzzing: a database error)
    import json

    from moderation.models import Report

    reporter, post = UserFactory(), post_of(UserFactory())
    body = json.dumps({
        "query": "mutation($id: ID!, $note: String) { reportCreate(targetType: \"post\", targetId: $id, "
                 "reason: SPAM, note: $note) { report { id } errors { code field } } }",
        "variables": {"id": str(post.pk), "note": note},
    })

    # when
    response = auth_client(reporter).generic("POST", "/graphql/", body, content_type="application/json")

    # then
    assert response.json() == {"data": {"reportCreate": {"report": None,
                                                         "errors": [{"code": "invalid", "field": "note"}]}}}
    assert Report.objects.exists() is False
