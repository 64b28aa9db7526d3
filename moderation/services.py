"""Moderation writes: automatic text checks, velocity caps, reports and cases, decisions,
appeals and reversals, audit log.

Every writer in the project asks moderation before saving user text:

    verdict = moderation.services.text_enforce(actor=user, text=body, context="post")
    # raises Invalid(code="content_rejected") for a reject; returns the verdict otherwise,
    # and a `verdict.held` text is saved hidden, then `case_open_for_hold(...)` queues it.

Moderation never imports content or messaging: decisions reach them through the event
"moderation.decided" (see daira/lib/events.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import regex
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import User
from accounts.validators import require_clean_text
from daira.lib import events, ratelimit
from daira.lib.errors import Conflict, Invalid, NotFound, PermissionDenied
from daira.lib.redis import get_redis
from daira.lib.text import MatchForms, extract_mentions, normalize_for_match, term_in_text
from moderation import classifiers, selectors, targets
from moderation.models import (
    REASON_SEVERITY,
    AccountRestriction,
    Appeal,
    AuditLog,
    BadDomain,
    Case,
    CaseReason,
    Decision,
    DecisionKind,
    KeywordRule,
    RegexRule,
    Report,
    ReportReason,
    RuleAction,
    TextFlag,
)
from social import selectors as social_selectors
from social import services as social_services

logger = logging.getLogger(__name__)

DECIDE_PERMISSION = "moderation.decide_case"
MAX_TEXT_CHECK_LENGTH = 20_000
MAX_NOTE_LENGTH = 1_000
MAX_APPEAL_LENGTH = 2_000

# --- automatic checks ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The answer of `text_check`.

    `action`: "allow", "hold" (save hidden and queue for review) or "reject" (refuse).
    `reason`: the code of the strongest finding ("ok", "keyword", "regex", "bad_domain",
    "too_many_links", "too_many_mentions", "repeated_text", "classifier").
    `rule_ids`: every matched rule as "keyword:<id>" / "regex:<id>" (flag-only ones too).
    `flagged`: a flag-only rule matched (the text is allowed, and recorded for reviewers).
    """

    action: str
    reason: str = "ok"
    rule_ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    flagged: bool = False

    @property
    def allowed(self) -> bool:
        return self.action == "allow"

    @property
    def held(self) -> bool:
        return self.action == "hold"

    @property
    def rejected(self) -> bool:
        return self.action == "reject"


@dataclass(order=True)
class _Finding:
    strength: int  # reject 3 > hold 2 > flag 1
    severity: int
    reason: str = field(compare=False)
    rule_id: str | None = field(compare=False, default=None)


_STRENGTH = {RuleAction.REJECT: 3, RuleAction.HOLD: 2, RuleAction.FLAG: 1}
_ACTION_OF_STRENGTH = {3: "reject", 2: "hold", 1: "allow"}

# Links: anything with a scheme or "www.", and bare domains on common TLDs ("bit.ly/x").
_URL = re.compile(
    r"(?i)(?:\bhttps?://|\bwww\.)([^\s/?#:]+)[^\s]*"
    r"|\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|net|org|info|biz|io|co|me|ly|eg|xyz|top|site|online|link|app|ru|tk|ml|ga|cf|gq|click|shop|live))\b"
    r"(?:/[^\s]*)?"
)


# Any dotted host-like word, for the bad-domain lookup (a bad domain on any TLD counts).
_HOSTLIKE = re.compile(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b")


def _link_hosts(text: str) -> list[str]:
    hosts = []
    for match in _URL.finditer(text):
        host = (match.group(1) or match.group(2) or "").lower().rstrip(".")
        hosts.append(host.removeprefix("www."))
    return hosts


def _domain_suffixes(host: str) -> list[str]:
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


def _repeat_count(*, actor: User, normalized: str) -> int:
    digest = hashlib.sha1(normalized.encode()).hexdigest()
    key = f"moderation:repeat:{actor.pk}:{digest}"
    client = get_redis()
    # SET NX starts the window once; INCR keeps the TTL (works on Redis 6, no EXPIRE NX).
    with client.pipeline() as pipe:
        pipe.set(key, 0, ex=settings.MODERATION_REPEAT_WINDOW_SECONDS, nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
    return int(count)


def _rule_findings(*, text: str, forms: MatchForms, context: str) -> list[_Finding]:
    findings: list[_Finding] = []
    keyword_rules = KeywordRule.objects.filter(is_active=True).only("id", "term", "severity", "action", "contexts")
    for rule in keyword_rules:
        if rule.applies_to(context) and term_in_text(rule.term, forms):
            findings.append(_Finding(_STRENGTH[rule.action], rule.severity, "keyword", f"keyword:{rule.pk}"))
    regex_rules = RegexRule.objects.filter(is_active=True).only(
        "id", "pattern", "match_on", "severity", "action", "contexts"
    )
    for rule in regex_rules:
        if not rule.applies_to(context):
            continue
        haystacks = [text] if rule.match_on == RegexRule.MatchOn.RAW else [form.strip() for form in forms.variants]
        try:
            matched = any(
                regex.search(rule.pattern, haystack, timeout=settings.MODERATION_REGEX_TIMEOUT_SECONDS)
                for haystack in haystacks
            )
        except (TimeoutError, regex.error):
            # A pathological or broken pattern must not block every writer; reviewers see the log.
            logger.warning("moderation.regex_rule_failed", extra={"rule_id": rule.pk})
            continue
        if matched:
            findings.append(_Finding(_STRENGTH[rule.action], rule.severity, "regex", f"regex:{rule.pk}"))
    return findings


def _heuristic_findings(*, actor: User | None, text: str, normalized: str) -> list[_Finding]:
    findings: list[_Finding] = []
    hosts = _link_hosts(text)
    candidates = set(hosts) | {match.group(0).lower().removeprefix("www.") for match in _HOSTLIKE.finditer(text)}
    if candidates:
        suffixes = {suffix for host in candidates for suffix in _domain_suffixes(host)}
        if BadDomain.objects.filter(domain__in=suffixes).exists():
            findings.append(_Finding(3, 4, "bad_domain"))
    if len(hosts) > settings.MODERATION_MAX_LINKS:
        findings.append(_Finding(2, 2, "too_many_links"))
    if len(extract_mentions(text)) > settings.MODERATION_MAX_MENTIONS:
        findings.append(_Finding(2, 2, "too_many_mentions"))
    if (
        actor is not None
        and actor.pk is not None  # anonymous callers have no history to repeat
        and len(normalized) >= settings.MODERATION_REPEAT_MIN_LENGTH
        and _repeat_count(actor=actor, normalized=normalized) > settings.MODERATION_REPEAT_MAX
    ):
        findings.append(_Finding(2, 2, "repeated_text"))
    return findings


def _classifier_findings(*, text: str, normalized: str, context: str) -> list[_Finding]:
    findings: list[_Finding] = []
    for classifier in classifiers.registered():
        result = classifier.classify(text=text, normalized=normalized, context=context)
        if result.action in ("hold", "reject"):
            findings.append(
                _Finding(3 if result.action == "reject" else 2, 3, "classifier", f"classifier:{classifier.name}")
            )
    return findings


def text_check(*, actor: User | None, text: str, context: str) -> Verdict:
    """Check user text before it is saved; return a Verdict (never raises for any text).

    Layers, all on the normalised text (daira/lib/text.py): admin keyword and regex rules
    (reject / hold / flag), link and spam heuristics (bad domains → reject; too many links
    or mentions, the same text repeated by `actor` → hold), then any registered ML
    classifier (none is registered; see moderation/classifiers.py). The strongest finding
    wins. Side effects: the repeat counter in Redis counts this call (call it once per
    save), and any finding is recorded as a TextFlag row in the caller's transaction.
    """
    if not text or not text.strip():
        return Verdict(action="allow")
    text = text[:MAX_TEXT_CHECK_LENGTH]
    forms = MatchForms.of(text)
    normalized = normalize_for_match(text)
    findings = (
        _rule_findings(text=text, forms=forms, context=context)
        + _heuristic_findings(actor=actor, text=text, normalized=normalized)
        + _classifier_findings(text=text, normalized=normalized, context=context)
    )
    if not findings:
        return Verdict(action="allow")
    strongest = max(findings)
    verdict = Verdict(
        action=_ACTION_OF_STRENGTH[strongest.strength],
        reason="flagged" if strongest.strength == 1 else strongest.reason,
        rule_ids=tuple(dict.fromkeys(f.rule_id for f in findings if f.rule_id)),
        reasons=tuple(dict.fromkeys(f.reason for f in findings)),
        flagged=any(f.strength == 1 for f in findings),
    )
    TextFlag.objects.create(
        actor=actor if actor is not None and actor.pk is not None else None,
        context=context[:20],
        action=verdict.action,
        reason=verdict.reason,
        rule_ids=list(verdict.rule_ids),
        excerpt=text[:500],
    )
    logger.info(
        "moderation.text_checked",
        extra={"verdict": verdict.action, "reason": verdict.reason, "context": context, "rules": verdict.rule_ids},
    )
    return verdict


def text_enforce(*, actor: User | None, text: str, context: str, field: str | None = None) -> Verdict:
    """`text_check`, raising Invalid(code="content_rejected", field=`field`) for a reject.

    Returns the verdict for allow and hold: a held text is saved hidden by the caller, which
    then queues it with `case_open_for_hold`.
    """
    verdict = text_check(actor=actor, text=text, context=context)
    if verdict.rejected:
        raise Invalid(
            "This text breaks the community rules and cannot be published.",
            code="content_rejected",
            field=field,
            extra={"reason": verdict.reason},
        )
    return verdict


# --- velocity caps --------------------------------------------------------------------------

VELOCITY_ACTIONS = ("posts", "comments", "dms", "follows", "reports")


def velocity_check(*, actor: User, action: str) -> int:
    """Count one `action` ("posts", "comments", "dms", "follows", "reports") by `actor`
    against its per-minute and per-hour caps (settings.MODERATION_VELOCITY_CAPS; stricter
    for accounts younger than MODERATION_NEW_ACCOUNT_DAYS).

    Returns how many more are allowed right now. Raises RateLimited (→ 429 with
    Retry-After) when either cap is reached, without counting the refused attempt;
    ValueError for an unknown action (a programming error).
    """
    if action not in VELOCITY_ACTIONS:
        raise ValueError(f"Unknown velocity action {action!r}")
    per_minute, per_hour = selectors.velocity_caps_for(user=actor, action=action)
    identity = str(actor.pk)
    message = f"You are doing that too often ({action}). Try again later."
    ratelimit.check(f"velocity:{action}:hour", identity, limit=per_hour, window_s=3600, message=message)
    ratelimit.check(f"velocity:{action}:minute", identity, limit=per_minute, window_s=60, message=message)
    left_minute = ratelimit.hit(f"velocity:{action}:minute", identity, limit=per_minute, window_s=60, message=message)
    left_hour = ratelimit.hit(f"velocity:{action}:hour", identity, limit=per_hour, window_s=3600, message=message)
    return min(left_minute, left_hour)


# --- reports and cases ------------------------------------------------------------------------


def _case_refresh(case: Case) -> None:
    """Recompute a case's headline reason, counts and priority from its open reports.

    priority = 20 × the worst reason's severity (1-5) + 3 × reports (up to 10)
               + 4 × the summed reliability of the distinct reporters (up to 5 reporters' worth)
    """
    rows = list(
        Report.objects.filter(case=case).values("reason", "reporter_id", "reporter_reliability").order_by("id")
    )
    if not rows:
        return
    counts: dict[str, int] = {}
    reliability: dict[int, float] = {}
    for row in rows:
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
        reliability[row["reporter_id"]] = row["reporter_reliability"]
    worst = max(counts, key=lambda reason: (REASON_SEVERITY[reason], counts[reason]))
    base = max(REASON_SEVERITY[worst], REASON_SEVERITY.get(case.reason, 0) if case.reason == "automatic" else 0)
    case.reason = worst
    case.report_count = len(rows)
    case.reporter_count = len(reliability)
    case.priority = 20 * base + 3 * min(len(rows), 10) + round(4 * min(sum(reliability.values()), 5.0))


def _open_case(*, resolved: targets.ResolvedTarget, reason: str) -> Case:
    case, _ = Case.objects.get_or_create(
        content_type=resolved.content_type,
        object_id=resolved.obj.pk,
        status=Case.Status.OPEN,
        defaults={
            "target_type": resolved.type.name,
            "target_user_id": resolved.owner_id,
            "reason": reason,
            "priority": 20 * REASON_SEVERITY[reason],
        },
    )
    # Serialise concurrent reports on one target: counts and the hide threshold stay exact.
    return Case.objects.select_for_update().get(pk=case.pk)


def _emit_hidden(case: Case) -> None:
    events.emit_on_commit(
        "moderation.target_hidden",
        content_type=f"{case.content_type.app_label}.{case.content_type.model}",
        object_id=case.object_id,
    )


@transaction.atomic
def report_create(*, reporter: User, target_type: str, target_id: int, reason: str, note: str = "") -> Report:
    """File `reporter`'s report on a profile, post, comment, story or message.

    Raises Invalid for an unknown reason or target type (or a type whose app is not
    installed), one's own content, or an oversized note; NotFound when the target does not
    exist or `reporter` may not see it; Conflict(code="already_reported") for a second open
    report on the same target; RateLimited past the "reports" velocity cap. The report joins
    the target's open case (created if needed), whose priority is recomputed; once
    MODERATION_AUTO_HIDE_REPORTERS distinct reporters have reported it the target is hidden
    pending review: "moderation.target_hidden" {content_type, object_id} after commit.
    """
    if reason not in ReportReason.values:
        raise Invalid("Choose one of the listed reasons.", field="reason")
    require_clean_text(note=note)  # GraphQL strings may carry NUL bytes: a 400, not a database error
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise Invalid(f"Notes are limited to {MAX_NOTE_LENGTH} characters.", field="note")
    resolved = targets.resolve(target_type=target_type, target_id=target_id, viewer=reporter)
    if resolved.owner_id == reporter.pk:
        raise Invalid("You cannot report your own account or content.", code="own_target", field="target_id")
    velocity_check(actor=reporter, action="reports")

    case = _open_case(resolved=resolved, reason=reason)
    if Report.objects.filter(
        reporter=reporter, content_type=resolved.content_type, object_id=resolved.obj.pk, status=Report.Status.OPEN
    ).exists():
        raise Conflict("You have already reported this; we are looking into it.", code="already_reported")
    try:
        with transaction.atomic():
            report = Report.objects.create(
                reporter=reporter,
                content_type=resolved.content_type,
                object_id=resolved.obj.pk,
                target_type=resolved.type.name,
                reason=reason,
                note=note,
                case=case,
                reporter_reliability=selectors.reporter_reliability(user_id=reporter.pk),
            )
    except IntegrityError:
        raise Conflict("You have already reported this; we are looking into it.", code="already_reported") from None

    _case_refresh(case)
    if case.hidden_at is None and case.reporter_count >= settings.MODERATION_AUTO_HIDE_REPORTERS:
        case.hidden_at = timezone.now()
        _emit_hidden(case)
    case.save()
    logger.info("moderation.report_created", extra={"report_id": report.pk, "case_id": case.pk})
    return report


@transaction.atomic
def case_open_for_hold(*, target_type: str, target_id: int, verdict: Verdict) -> Case:
    """Queue a target whose text `text_check` held (the writer saved it hidden) for review.

    Joins the target's open case if there is one. Raises Invalid/NotFound like `report_create`.
    """
    resolved = targets.resolve(target_type=target_type, target_id=target_id)
    case = _open_case(resolved=resolved, reason=CaseReason.AUTOMATIC)
    if case.hidden_at is None:
        case.hidden_at = timezone.now()  # the writer saved it hidden already
    AuditLog.objects.create(
        actor=None,
        action="case.held_automatically",
        case=case,
        content_type=case.content_type,
        object_id=case.object_id,
        target_user_id=case.target_user_id,
        note=f"{verdict.reason}: {', '.join(verdict.rule_ids)}"[:1000],
        after={"verdict": verdict.action, "reason": verdict.reason, "rule_ids": list(verdict.rule_ids)},
    )
    case.save()
    return case


# --- decisions --------------------------------------------------------------------------------

SUSPENSION_DAYS: dict[str, int | None] = {
    DecisionKind.SUSPEND_1D: 1,
    DecisionKind.SUSPEND_7D: 7,
    DecisionKind.SUSPEND_30D: 30,
    DecisionKind.SUSPEND_PERMANENT: None,
}
_USER_DECISIONS = {DecisionKind.WARN, DecisionKind.LIMIT, *SUSPENSION_DAYS}


def _require_moderator(actor: User) -> None:
    if actor is None or not actor.is_active or not actor.is_staff or not actor.has_perm(DECIDE_PERMISSION):
        raise PermissionDenied("Only moderators can decide cases.")


def _require_note(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise Invalid("A note explaining the decision is required.", code="note_required", field="note")
    return note[:5_000]


def _state(case: Case) -> dict[str, Any]:
    """What a decision may change, for the audit log's before/after."""
    state: dict[str, Any] = {"case_status": case.status, "target_hidden": case.hidden_at is not None}
    if case.target_user_id:
        user = User.objects.filter(pk=case.target_user_id).only("status", "suspended_until").first()
        if user is not None:
            state["user_status"] = user.status
            state["suspended_until"] = user.suspended_until.isoformat() if user.suspended_until else None
            state["shadowbanned"] = social_selectors.is_shadowbanned(user.pk)
    return state


def _decided_payload(case: Case, decision: str) -> dict[str, Any]:
    return {
        "case_id": case.pk,
        "decision": decision,
        "target_app_label": case.content_type.app_label,
        "target_model": case.content_type.model,
        "target_id": case.object_id,
        "target_user_id": case.target_user_id,
    }


def _notify(*, user_id: int | None, kind: str, decision: Decision) -> None:
    if user_id is None:
        return
    events.emit_on_commit(
        "moderation.user_notified", user_id=user_id, kind=kind, decision_id=decision.pk, decision=decision.kind
    )


@transaction.atomic
def case_decide(*, actor: User, case_id: int, decision: str, note: str) -> Decision:
    """Decide an open case: dismiss, warn, limit (shadowban), remove the content, or suspend
    the target's owner for 1/7/30 days or permanently.

    Raises PermissionDenied unless `actor` is active staff with moderation.decide_case;
    Invalid without a note, for an unknown decision, for a user decision when the owner is
    gone, or "remove" on a profile (suspend instead); NotFound for an unknown case;
    Conflict(code="case_closed") when it is already decided. Closes the case and its
    reports, writes a Decision and an AuditLog row (before/after), applies limit/suspend
    through social/accounts services, and after commit emits "moderation.decided" {case_id,
    decision, target_app_label, target_model, target_id, target_user_id} (content removes
    or un-hides) and, except on dismiss, "moderation.user_notified" {user_id, kind:
    "decision", decision_id, decision} to the target's owner.
    """
    _require_moderator(actor)
    note = _require_note(note)
    if decision not in DecisionKind.values:
        raise Invalid("Unknown decision.", field="decision")
    case = Case.objects.select_for_update().select_related("content_type").filter(pk=case_id).first()
    if case is None:
        raise NotFound("Case not found.")
    if case.status != Case.Status.OPEN:
        raise Conflict("This case has already been decided.", code="case_closed")
    target_user = User.objects.filter(pk=case.target_user_id).first() if case.target_user_id else None
    if decision in _USER_DECISIONS and target_user is None:
        raise Invalid("The account behind this target no longer exists.", field="decision")
    if decision == DecisionKind.REMOVE and case.target_type == "profile":
        raise Invalid("A profile cannot be removed; warn, limit or suspend the account.", field="decision")

    before = _state(case)
    now = timezone.now()
    until = None
    if decision == DecisionKind.LIMIT:
        social_services.shadowban_set(user_id=target_user.pk, active=True, actor=actor, reason=note[:500])
    elif decision in SUSPENSION_DAYS:
        days = SUSPENSION_DAYS[decision]
        until = now + timedelta(days=days) if days is not None else None
        accounts_services.user_suspend(user=target_user, actor=actor, reason=note[:300], until=until)

    dismissed = decision == DecisionKind.DISMISS
    case.status = Case.Status.DISMISSED if dismissed else Case.Status.ACTIONED
    case.decided_at = now
    case.save(update_fields=["status", "decided_at", "updated_at"])
    Report.objects.filter(case=case, status=Report.Status.OPEN).update(
        status=Report.Status.DISMISSED if dismissed else Report.Status.ACTIONED, resolved_at=now
    )
    made = Decision.objects.create(
        case=case, kind=decision, actor=actor, target_user=target_user, note=note, until=until
    )
    after = _state(case)
    if decision == DecisionKind.REMOVE:
        after["content_removed"] = True
    AuditLog.objects.create(
        actor=actor,
        action=f"case.{decision}",
        case=case,
        content_type=case.content_type,
        object_id=case.object_id,
        target_user=target_user,
        note=note,
        before=before,
        after=after,
    )
    events.emit_on_commit("moderation.decided", **_decided_payload(case, decision))
    if not dismissed:
        _notify(user_id=case.target_user_id, kind="decision", decision=made)
    return made


def cases_decide(*, actor: User, case_ids: Iterable[int], decision: str, note: str) -> tuple[list[Decision], list[int]]:
    """Bulk `case_decide`: each case in its own transaction. Returns (decisions made, ids of
    cases skipped because they were already decided or gone). Raises what `case_decide`
    raises for the actor, note or decision before deciding anything."""
    _require_moderator(actor)
    _require_note(note)
    if decision not in DecisionKind.values:
        raise Invalid("Unknown decision.", field="decision")
    made: list[Decision] = []
    skipped: list[int] = []
    for case_id in case_ids:
        try:
            made.append(case_decide(actor=actor, case_id=case_id, decision=decision, note=note))
        except (Conflict, NotFound, Invalid):
            skipped.append(case_id)
    return made, skipped


def _still_in_force(*, decision: Decision, kinds: Iterable[str]) -> bool:
    """Another unreversed decision keeps the same restriction on the user in force."""
    others = Decision.objects.filter(
        target_user_id=decision.target_user_id, kind__in=list(kinds), reversed_at__isnull=True
    ).exclude(pk=decision.pk)
    now = timezone.now()
    return any(other.until is None or other.until > now for other in others)


@transaction.atomic
def decision_reverse(*, actor: User, decision_id: int, note: str) -> Decision:
    """Reverse a decision: lift its shadowban or suspension (unless another unreversed
    decision imposes the same), mark the case's reports as no-action, audit-log it, and emit
    "moderation.decided" with decision "restored" (content restores removed or hidden
    content). Raises PermissionDenied, Invalid (no note; a dismissal), NotFound, or
    Conflict(code="already_reversed")."""
    _require_moderator(actor)
    note = _require_note(note)
    decision = (
        Decision.objects.select_for_update().select_related("case__content_type").filter(pk=decision_id).first()
    )
    if decision is None:
        raise NotFound("Decision not found.")
    if decision.reversed_at is not None:
        raise Conflict("This decision has already been reversed.", code="already_reversed")
    if decision.kind == DecisionKind.DISMISS:
        raise Invalid("A dismissal has nothing to reverse.", field="decision")
    case = decision.case
    before = _state(case)
    target_user = User.objects.filter(pk=decision.target_user_id).first() if decision.target_user_id else None
    if target_user is not None:
        if decision.kind == DecisionKind.LIMIT and not _still_in_force(decision=decision, kinds=[DecisionKind.LIMIT]):
            social_services.shadowban_set(user_id=target_user.pk, active=False, actor=actor, reason=note[:500])
        elif decision.kind in SUSPENSION_DAYS and not _still_in_force(decision=decision, kinds=SUSPENSION_DAYS):
            accounts_services.user_unsuspend(user=target_user, actor=actor, reason=note[:300])
    now = timezone.now()
    decision.reversed_at, decision.reversed_by = now, actor
    decision.save(update_fields=["reversed_at", "reversed_by"])
    Report.objects.filter(case=case).update(status=Report.Status.DISMISSED, resolved_at=now)
    after = _state(case)
    after["restored"] = True
    AuditLog.objects.create(
        actor=actor,
        action="decision.reversed",
        case=case,
        content_type=case.content_type,
        object_id=case.object_id,
        target_user=target_user,
        note=note,
        before={**before, "decision": decision.kind},
        after=after,
    )
    events.emit_on_commit("moderation.decided", **_decided_payload(case, "restored"))
    return decision


# --- appeals ------------------------------------------------------------------------------------


@transaction.atomic
def appeal_create(*, user: User, decision_id: int, text: str) -> Appeal:
    """The affected user's one appeal against a decision on them.

    Raises NotFound unless the decision exists and targets `user` (other people's decisions
    look missing); Invalid for an empty or oversized text, a dismissal or reversed decision,
    or past MODERATION_APPEAL_WINDOW_DAYS (code "appeal_window_closed");
    Conflict(code="already_appealed") for a second appeal. Audit-logged.
    """
    require_clean_text(text=text)  # GraphQL strings may carry NUL bytes: a 400, not a database error
    text = (text or "").strip()
    if not text:
        raise Invalid("Tell us why the decision should change.", field="text")
    if len(text) > MAX_APPEAL_LENGTH:
        raise Invalid(f"Appeals are limited to {MAX_APPEAL_LENGTH} characters.", field="text")
    decision = (
        Decision.objects.select_for_update().select_related("case").filter(pk=decision_id, target_user=user).first()
    )
    if decision is None or decision.kind == DecisionKind.DISMISS:
        raise NotFound("Decision not found.")
    if decision.reversed_at is not None:
        raise Invalid("This decision has already been reversed.", code="already_reversed")
    if Appeal.objects.filter(decision=decision).exists():
        raise Conflict("You have already appealed this decision.", code="already_appealed")
    if decision.created_at + timedelta(days=settings.MODERATION_APPEAL_WINDOW_DAYS) < timezone.now():
        raise Invalid("The time to appeal this decision has passed.", code="appeal_window_closed")
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(decision=decision, user=user, text=text)
    except IntegrityError:
        raise Conflict("You have already appealed this decision.", code="already_appealed") from None
    AuditLog.objects.create(
        actor=user,
        action="appeal.created",
        case=decision.case,
        content_type_id=decision.case.content_type_id,
        object_id=decision.case.object_id,
        target_user=user,
        note=text[:1000],
        after={"appeal_id": appeal.pk, "decision_id": decision.pk, "decision": decision.kind},
    )
    return appeal


@transaction.atomic
def appeal_decide(*, actor: User, appeal_id: int, reverse: bool, note: str) -> Appeal:
    """Answer a pending appeal: uphold the decision, or reverse it (`decision_reverse`,
    which restores content and lifts restrictions). Raises PermissionDenied, Invalid (no
    note), NotFound, Conflict(code="appeal_closed"). Audit-logged; after commit the user is
    told: "moderation.user_notified" {user_id, kind: "appeal_decided", decision_id,
    decision: "reversed" | "upheld"}."""
    _require_moderator(actor)
    note = _require_note(note)
    appeal = Appeal.objects.select_for_update().select_related("decision__case").filter(pk=appeal_id).first()
    if appeal is None:
        raise NotFound("Appeal not found.")
    if appeal.status != Appeal.Status.PENDING:
        raise Conflict("This appeal has already been answered.", code="appeal_closed")
    if reverse:
        decision_reverse(actor=actor, decision_id=appeal.decision_id, note=note)
    appeal.status = Appeal.Status.REVERSED if reverse else Appeal.Status.UPHELD
    appeal.reviewer, appeal.review_note, appeal.reviewed_at = actor, note, timezone.now()
    appeal.save(update_fields=["status", "reviewer", "review_note", "reviewed_at"])
    case = appeal.decision.case
    AuditLog.objects.create(
        actor=actor,
        action=f"appeal.{appeal.status}",
        case=case,
        content_type_id=case.content_type_id,
        object_id=case.object_id,
        target_user_id=appeal.user_id,
        note=note,
        before={"appeal_status": Appeal.Status.PENDING},
        after={"appeal_status": appeal.status},
    )
    events.emit_on_commit(
        "moderation.user_notified",
        user_id=appeal.user_id,
        kind="appeal_decided",
        decision_id=appeal.decision_id,
        decision="reversed" if reverse else "upheld",
    )
    return appeal


# --- restrictions and the audit log ------------------------------------------------------------


@transaction.atomic
def restriction_set(*, actor: User, user: User, reason: str, until=None) -> AccountRestriction:
    """Make `user` read-only (account_can_post answers "limited") until `until` (None: until
    lifted). Raises PermissionDenied for non-moderators, Invalid without a reason."""
    _require_moderator(actor)
    reason = _require_note(reason)
    restriction = AccountRestriction.objects.create(user=user, until=until, reason=reason[:300], created_by=actor)
    AuditLog.objects.create(
        actor=actor, action="restriction.set", target_user=user, note=reason,
        after={"restriction_id": restriction.pk, "until": until.isoformat() if until else None},
    )
    return restriction


@transaction.atomic
def restriction_lift(*, actor: User, user: User, reason: str) -> int:
    """Lift every active read-only restriction of `user`; returns how many were lifted."""
    _require_moderator(actor)
    reason = _require_note(reason)
    lifted = AccountRestriction.objects.filter(user=user, lifted_at__isnull=True).update(lifted_at=timezone.now())
    AuditLog.objects.create(actor=actor, action="restriction.lifted", target_user=user, note=reason,
                            after={"lifted": lifted})
    return lifted


def audit_record(*, actor: User | None, action: str, note: str = "", obj=None,
                 before: dict | None = None, after: dict | None = None) -> AuditLog:
    """Write one audit row for an admin change outside decisions (rule edits)."""
    from django.contrib.contenttypes.models import ContentType

    return AuditLog.objects.create(
        actor=actor,
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=obj.pk if obj is not None and isinstance(obj.pk, int) else None,
        note=note,
        before=before or {},
        after=after or {},
    )

