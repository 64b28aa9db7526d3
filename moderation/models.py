"""Moderation: automatic-check rules, reports and cases, decisions, appeals, audit log.

Moderation sits below media and content (DESIGN.md): a report or case points at its
target through a generic relation (ContentType + object id), never a foreign key into a
higher app, and decisions reach content through the event "moderation.decided".
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from daira.lib.models import SnowflakeIdField
from daira.lib.text import normalize_for_match


class Language(models.TextChoices):
    ANY = "any", "Any"
    ARABIC = "ar", "Arabic (incl. Arabizi)"
    ENGLISH = "en", "English / Latin"


class Severity(models.IntegerChoices):
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    CRITICAL = 4, "Critical"


class RuleAction(models.TextChoices):
    REJECT = "reject", "Reject at publish"
    HOLD = "hold", "Hold for review"
    FLAG = "flag", "Flag only"


class Rule(models.Model):
    """Fields common to keyword and regex rules. Only admins edit rules (admin permissions)."""

    id = SnowflakeIdField()
    language = models.CharField(
        max_length=3, choices=Language.choices, default=Language.ANY,
        help_text="Which language the rule is written for (a hint for reviewers and filters)",
    )
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MEDIUM)
    action = models.CharField(max_length=6, choices=RuleAction.choices, default=RuleAction.HOLD)
    contexts = ArrayField(
        models.CharField(max_length=20), blank=True, default=list,
        help_text="Where the rule applies (post, comment, message, bio, ...); empty: everywhere",
    )
    is_active = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def applies_to(self, context: str) -> bool:
        return not self.contexts or context in self.contexts


class KeywordRule(Rule):
    """A word or phrase, matched as whole words on normalised text (daira.lib.text), so one
    rule catches its Arabic, Arabizi, leetspeak and spaced-out spellings."""

    term = models.CharField(max_length=200)
    normalized = models.CharField(max_length=400, editable=False, default="")

    class Meta:
        ordering = ["term"]
        constraints = [models.UniqueConstraint(fields=["normalized"], name="keywordrule_normalized_unique")]

    def __str__(self) -> str:
        return self.term

    def clean(self) -> None:
        if not normalize_for_match(self.term or ""):
            raise ValidationError({"term": "The term has no letters or digits."})

    def save(self, *args, **kwargs):
        self.normalized = normalize_for_match(self.term)
        super().save(*args, **kwargs)


class RegexRule(Rule):
    """A regular expression (the `regex` module, matched with a time limit)."""

    class MatchOn(models.TextChoices):
        NORMALIZED = "normalized", "Normalised text"
        RAW = "raw", "Raw text"

    name = models.CharField(max_length=100)
    pattern = models.CharField(max_length=1000)
    match_on = models.CharField(max_length=10, choices=MatchOn.choices, default=MatchOn.NORMALIZED)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        import regex

        try:
            regex.compile(self.pattern)
        except regex.error as exc:
            raise ValidationError({"pattern": f"Not a valid regular expression: {exc}"}) from None


class BadDomain(models.Model):
    """A known-bad domain; links to it or any of its subdomains are rejected."""

    id = SnowflakeIdField()
    domain = models.CharField(max_length=253, unique=True, help_text="e.g. spam.example (subdomains included)")
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower().rstrip(".").removeprefix("www.")
        super().save(*args, **kwargs)


class TextFlag(models.Model):
    """A record of an automatic check that matched (flag, hold or reject), for reviewers."""

    id = SnowflakeIdField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    context = models.CharField(max_length=20)
    action = models.CharField(max_length=6)
    reason = models.CharField(max_length=40)
    rule_ids = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    excerpt = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="textflag_created_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.reason} ({self.context})"


class AccountRestriction(models.Model):
    """A read-only restriction: the account may not post until `until` (empty: until lifted)."""

    id = SnowflakeIdField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "lifted_at"], name="restriction_user_idx")]

    def __str__(self) -> str:
        return f"restriction of {self.user_id}"


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam"
    HARASSMENT = "harassment", "Harassment or bullying"
    HATE = "hate", "Hate speech"
    NUDITY = "nudity", "Nudity or sexual content"
    VIOLENCE = "violence", "Violence"
    MISINFORMATION = "misinformation", "Misinformation"
    SELF_HARM = "self_harm", "Self-harm"
    OTHER = "other", "Other"


class CaseReason(models.TextChoices):
    """A case's headline reason: a report reason, or an automatic hold."""

    SPAM = "spam", "Spam"
    HARASSMENT = "harassment", "Harassment or bullying"
    HATE = "hate", "Hate speech"
    NUDITY = "nudity", "Nudity or sexual content"
    VIOLENCE = "violence", "Violence"
    MISINFORMATION = "misinformation", "Misinformation"
    SELF_HARM = "self_harm", "Self-harm"
    OTHER = "other", "Other"
    AUTOMATIC = "automatic", "Automatic check (held)"


# How urgent each reason is (1-5): the main term of a case's priority.
REASON_SEVERITY = {
    "self_harm": 5, "violence": 4, "hate": 4, "nudity": 3, "harassment": 3,
    "misinformation": 2, "spam": 1, "other": 1, "automatic": 2,
}


class DecisionKind(models.TextChoices):
    DISMISS = "dismiss", "Dismiss"
    WARN = "warn", "Warn"
    LIMIT = "limit", "Limit (remove from discovery)"
    REMOVE = "remove", "Remove content"
    SUSPEND_1D = "suspend_1d", "Suspend 1 day"
    SUSPEND_7D = "suspend_7d", "Suspend 7 days"
    SUSPEND_30D = "suspend_30d", "Suspend 30 days"
    SUSPEND_PERMANENT = "suspend_permanent", "Suspend permanently"


class Case(models.Model):
    """All reports on one target while it awaits a decision (at most one open case per target)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    id = SnowflakeIdField()
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    target_type = models.CharField(max_length=20, help_text="profile, post, comment, story or message")
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The account the target belongs to",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reason = models.CharField(max_length=16, choices=CaseReason.choices)
    priority = models.PositiveIntegerField(default=0)
    report_count = models.PositiveIntegerField(default=0)
    reporter_count = models.PositiveIntegerField(default=0)
    hidden_at = models.DateTimeField(null=True, blank=True, help_text="Hidden pending review (report threshold)")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("decide_case", "Can decide moderation cases")]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"], condition=Q(status="open"), name="case_one_open_per_target"
            )
        ]
        indexes = [
            models.Index(fields=["status", "-priority", "created_at"], name="case_queue_idx"),
            models.Index(fields=["content_type", "object_id"], name="case_target_idx"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk}: {self.target_type} {self.object_id} ({self.get_reason_display()})"


class Report(models.Model):
    """One user's report of one target. The reporter is never shown to the reported user."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Action taken"
        DISMISSED = "dismissed", "No action"

    id = SnowflakeIdField()
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    target_type = models.CharField(max_length=20)
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    note = models.CharField(max_length=1000, blank=True, default="")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reporter_reliability = models.FloatField(default=0.5, help_text="The reporter's track record when reporting")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reporter", "content_type", "object_id"],
                condition=Q(status="open"),
                name="report_one_open_per_reporter_target",
            )
        ]
        indexes = [models.Index(fields=["reporter", "-id"], name="report_reporter_idx")]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.reason})"


class Decision(models.Model):
    """A moderator's decision on a case. Reversal (after an appeal) restores what it took away."""

    id = SnowflakeIdField()
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField()
    until = models.DateTimeField(null=True, blank=True, help_text="End of a timed suspension")
    created_at = models.DateTimeField(default=timezone.now)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["target_user", "-id"], name="decision_target_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"


class Appeal(models.Model):
    """The affected user's one appeal against a decision."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        UPHELD = "upheld", "Decision upheld"
        REVERSED = "reversed", "Decision reversed"

    id = SnowflakeIdField()
    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, related_name="appeal")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="appeal_queue_idx")]

    def __str__(self) -> str:
        return f"appeal {self.pk} of decision {self.decision_id}"


class AuditLog(models.Model):
    """Who did what, when, why, with the state before and after (PDPL record keeping).

    Rows are only ever inserted (services), never edited; the admin is read-only."""

    id = SnowflakeIdField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=40)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_rows")
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    object_id = models.BigIntegerField(null=True, blank=True)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("export_auditlog", "Can export the moderation audit log")]
        indexes = [models.Index(fields=["-created_at"], name="auditlog_created_idx")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"
