"""The moderators' workplace: the review queue (cases), appeals, rules and the audit log.

Permissions (see moderation/permissions.py): the "moderator" group views cases, reports,
appeals and the audit log and may decide (moderation.decide_case); only superusers edit
rules and bad domains. Decisions always go through moderation.services, which checks the
permission again, requires a note and writes the audit log.

Direct messages: moderators have no messaging permission, so the only place a message is
shown to them is the preview of a case that reports it.
"""

from __future__ import annotations

import csv
import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone

from daira.lib.errors import ApplicationError
from moderation import selectors, services, targets
from moderation.models import (
    AccountRestriction,
    Appeal,
    AuditLog,
    BadDomain,
    Case,
    Decision,
    DecisionKind,
    KeywordRule,
    RegexRule,
    Report,
    TextFlag,
)


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        required=True,
        max_length=5_000,
        help_text="Required: why this decision. It goes into the audit log.",
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: the admin shows them and never edits them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the review queue --------------------------------------------------------------------------


class PriorityFilter(admin.SimpleListFilter):
    title = "priority"
    parameter_name = "priority"
    BANDS = {"urgent": (100, None), "high": (60, 100), "normal": (30, 60), "low": (0, 30)}

    def lookups(self, request, model_admin):
        return [("urgent", "Urgent (100+)"), ("high", "High (60-99)"), ("normal", "Normal (30-59)"), ("low", "Low (<30)")]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        low, high = band
        queryset = queryset.filter(priority__gte=low)
        return queryset.filter(priority__lt=high) if high is not None else queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS = {"1h": (None, 1), "24h": (1, 24), "7d": (24, 24 * 7), "older": (24 * 7, None)}

    def lookups(self, request, model_admin):
        return [("1h", "Under an hour"), ("24h", "1-24 hours"), ("7d", "1-7 days"), ("older", "Over a week")]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        younger_h, older_h = band
        now = timezone.now()
        if younger_h is not None:
            queryset = queryset.filter(created_at__lte=now - timedelta(hours=younger_h))
        if older_h is not None:
            queryset = queryset.filter(created_at__gt=now - timedelta(hours=older_h))
        return queryset


class ReportInline(admin.TabularInline):
    model = Report
    extra = 0
    can_delete = False
    fields = ("reason", "note", "reporter", "reporter_reliability", "status", "created_at")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    can_delete = False
    fields = ("kind", "actor", "note", "until", "created_at", "reversed_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _decide_action(kind: DecisionKind):
    def action(modeladmin, request, queryset):
        return modeladmin.decide_many(request, queryset, kind)

    action.__name__ = f"decide_{kind.value}"
    return admin.action(description=f"{kind.label} (with a note)…", permissions=["decide"])(action)


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("id", "target_type", "reason", "priority", "report_count", "reporter_count", "status",
                    "is_hidden", "created_at")
    list_filter = ("status", "reason", PriorityFilter, AgeFilter, "target_type")
    ordering = ("-priority", "created_at")
    search_fields = ("=id", "=object_id", "target_user__handle")
    list_select_related = ("content_type",)
    readonly_fields = ("target_type", "object_id", "content_type", "target_user", "status", "reason", "priority",
                       "report_count", "reporter_count", "hidden_at", "created_at", "decided_at")
    fields = readonly_fields
    inlines = [ReportInline, DecisionInline]
    actions = [_decide_action(kind) for kind in DecisionKind]
    change_form_template = "admin/moderation/case/change_form.html"

    @admin.display(boolean=True, description="hidden")
    def is_hidden(self, obj):
        return obj.hidden_at is not None

    def has_decide_permission(self, request):
        return request.user.has_perm(services.DECIDE_PERMISSION)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/decide/<str:decision>/",
                self.admin_site.admin_view(self.decide_one),
                name="%s_%s_decide" % info,
            ),
        ] + super().get_urls()

    # The target preview needs the request (permission-aware links), so it is rendered
    # through the template context rather than a readonly field.
    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        case = self.get_object(request, object_id)
        if case is not None:
            extra_context["target_preview"] = self._target_preview(request, case)
            extra_context["reason_counts"] = selectors.report_reason_counts(case_id=case.pk)
            extra_context["decisions"] = [
                (kind.value, kind.label) for kind in DecisionKind
                if not (kind == DecisionKind.REMOVE and case.target_type == "profile")
            ]
            extra_context["can_decide"] = case.status == Case.Status.OPEN and self.has_decide_permission(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def _target_preview(self, request, case: Case) -> dict:
        kind = targets.target_type_get(case.target_type)
        target = case.target
        preview = {"type": case.target_type, "id": case.object_id, "exists": target is not None,
                   "label": "", "text": "", "admin_url": None, "owner": case.target_user}
        if target is None:
            return preview
        preview["label"] = str(target)
        preview["text"] = targets.text_of(kind, target)[:2_000]
        opts = target._meta
        # Link only where the moderator may look anyway: never into the messaging admin.
        if request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            try:
                preview["admin_url"] = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[target.pk])
            except NoReverseMatch:
                pass
        return preview

    def decide_one(self, request, object_id, decision):
        if not self.has_decide_permission(request):
            raise PermissionDenied
        if decision not in DecisionKind.values:
            raise PermissionDenied
        case = self.get_object(request, str(object_id))
        if case is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))
        form = NoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.case_decide(actor=request.user, case_id=case.pk, decision=decision,
                                     note=form.cleaned_data["note"])
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"Case {case.pk}: {DecisionKind(decision).label}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:moderation_case_changelist"))
        return self._note_page(request, form=form, title=f"{DecisionKind(decision).label}: case {case.pk}",
                               objects=[case], action=None)

    def decide_many(self, request, queryset, kind: DecisionKind):
        form = NoteForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                made, skipped = services.cases_decide(
                    actor=request.user, case_ids=list(queryset.values_list("pk", flat=True)),
                    decision=kind.value, note=form.cleaned_data["note"],
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return None
            self.message_user(request, f"{kind.label}: {len(made)} case(s) decided.", messages.SUCCESS)
            if skipped:
                self.message_user(request, f"Skipped (already decided or not applicable): {skipped}",
                                  messages.WARNING)
            return None
        return self._note_page(request, form=form, title=f"{kind.label}: {queryset.count()} case(s)",
                               objects=list(queryset), action=f"decide_{kind.value}")

    def _note_page(self, request, *, form, title, objects, action):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "form": form,
            "objects": objects,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/moderation/note_form.html", context)


# --- appeals -------------------------------------------------------------------------------------


def _appeal_action(reverse_it: bool):
    def action(modeladmin, request, queryset):
        return modeladmin.answer_many(request, queryset, reverse_it)

    action.__name__ = "appeal_reverse" if reverse_it else "appeal_uphold"
    description = "Reverse the decision (restore)…" if reverse_it else "Uphold the decision…"
    return admin.action(description=description, permissions=["decide"])(action)


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("id", "decision", "user", "status", "created_at", "reviewed_at")
    list_filter = ("status",)
    ordering = ("status", "created_at")
    fields = ("decision", "user", "text", "status", "reviewer", "review_note", "created_at", "reviewed_at")
    readonly_fields = fields
    actions = [_appeal_action(False), _appeal_action(True)]

    def has_decide_permission(self, request):
        return request.user.has_perm(services.DECIDE_PERMISSION)

    def answer_many(self, request, queryset, reverse_it: bool):
        form = NoteForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for appeal in queryset:
                try:
                    services.appeal_decide(actor=request.user, appeal_id=appeal.pk, reverse=reverse_it,
                                           note=form.cleaned_data["note"])
                    done += 1
                except ApplicationError as exc:
                    self.message_user(request, f"Appeal {appeal.pk}: {exc.message}", messages.WARNING)
            self.message_user(request, f"{done} appeal(s) answered.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": ("Reverse" if reverse_it else "Uphold") + f": {queryset.count()} appeal(s)",
            "opts": self.opts,
            "form": form,
            "objects": list(queryset),
            "action": "appeal_reverse" if reverse_it else "appeal_uphold",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/moderation/note_form.html", context)


# --- reports, decisions, flags ---------------------------------------------------------------------


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "target_type", "object_id", "reason", "status", "case", "created_at")
    list_filter = ("status", "reason", "target_type")
    search_fields = ("=id", "=object_id", "reporter__handle")
    fields = ("reporter", "target_type", "object_id", "reason", "note", "case", "status", "reporter_reliability",
              "created_at", "resolved_at")
    readonly_fields = fields


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "case", "target_user", "actor", "created_at", "reversed_at")
    list_filter = ("kind",)
    fields = ("case", "kind", "actor", "target_user", "note", "until", "created_at", "reversed_at", "reversed_by")
    readonly_fields = fields


@admin.register(TextFlag)
class TextFlagAdmin(ReadOnlyAdmin):
    list_display = ("id", "action", "reason", "context", "actor", "excerpt", "created_at")
    list_filter = ("action", "reason", "context")
    fields = ("actor", "context", "action", "reason", "rule_ids", "excerpt", "created_at")
    readonly_fields = fields


@admin.register(AccountRestriction)
class AccountRestrictionAdmin(ReadOnlyAdmin):
    """Read-only accounts (account_can_post answers "limited"). Moderators add them and lift
    them (with a note), through the services, so both are audit-logged."""

    list_display = ("id", "user", "until", "reason", "created_by", "created_at", "lifted_at")
    list_filter = ("lifted_at",)
    search_fields = ("user__handle",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_by", "created_at", "lifted_at")
    actions = ["lift"]

    def has_add_permission(self, request):
        return request.user.has_perm(services.DECIDE_PERMISSION)

    def has_decide_permission(self, request):
        return request.user.has_perm(services.DECIDE_PERMISSION)

    def get_fields(self, request, obj=None):
        return ("user", "until", "reason") if obj is None else ("user", "until", "reason", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else ("user", "until", "reason", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        # Through the service (permission check, audit row); the admin never saves it itself.
        created = services.restriction_set(actor=request.user, user=obj.user, reason=obj.reason, until=obj.until)
        obj.pk = created.pk

    @admin.action(description="Lift the restriction (with a note)…", permissions=["decide"])
    def lift(self, request, queryset):
        form = NoteForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            users = {restriction.user for restriction in queryset.select_related("user")}
            for user in users:
                services.restriction_lift(actor=request.user, user=user, reason=form.cleaned_data["note"])
            self.message_user(request, f"Restrictions lifted for {len(users)} account(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Lift {queryset.count()} restriction(s)",
            "opts": self.opts,
            "form": form,
            "objects": list(queryset),
            "action": "lift",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/moderation/note_form.html", context)


# --- rules (admins only) -----------------------------------------------------------------------------


class SuperuserEditsAdmin(admin.ModelAdmin):
    """Moderators may read the rules; only superusers change them (and every change is audited)."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def _snapshot(self, obj) -> dict:
        return json.loads(json.dumps(
            {f.name: getattr(obj, f.attname) for f in obj._meta.concrete_fields}, default=str
        ))

    def save_model(self, request, obj, form, change):
        before = self._snapshot(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        services.audit_record(actor=request.user, action=f"{obj._meta.model_name}.{'changed' if change else 'added'}",
                              obj=obj, before=before, after=self._snapshot(obj))

    def delete_model(self, request, obj):
        before = self._snapshot(obj)
        services.audit_record(actor=request.user, action=f"{obj._meta.model_name}.deleted", obj=obj, before=before)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(KeywordRule)
class KeywordRuleAdmin(SuperuserEditsAdmin):
    list_display = ("term", "normalized", "language", "severity", "action", "is_active", "updated_at")
    list_filter = ("action", "severity", "language", "is_active")
    search_fields = ("term", "normalized")
    readonly_fields = ("normalized",)


@admin.register(RegexRule)
class RegexRuleAdmin(SuperuserEditsAdmin):
    list_display = ("name", "pattern", "match_on", "language", "severity", "action", "is_active")
    list_filter = ("action", "severity", "language", "is_active")
    search_fields = ("name", "pattern")


@admin.register(BadDomain)
class BadDomainAdmin(SuperuserEditsAdmin):
    list_display = ("domain", "note", "created_at")
    search_fields = ("domain",)


# --- audit log ----------------------------------------------------------------------------------------

CSV_COLUMNS = ["id", "created_at", "actor", "action", "case_id", "target_type", "target_id", "target_user",
               "note", "before", "after"]


def _csv_safe(value) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; neutralise them."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "case", "target_user", "short_note")
    list_filter = ("action", "created_at")
    search_fields = ("=case__id", "actor__handle", "target_user__handle", "action")
    date_hierarchy = "created_at"
    fields = ("created_at", "actor", "action", "case", "content_type", "object_id", "target_user", "note",
              "before", "after")
    readonly_fields = fields
    actions = ["export_csv"]

    @admin.display(description="note")
    def short_note(self, obj):
        return obj.note[:80]

    def has_export_permission(self, request):
        return request.user.has_perm("moderation.export_auditlog")

    @admin.action(description="Export selected rows as CSV", permissions=["export"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="moderation-audit-{stamp}.csv"'
        response.write("\ufeff")  # BOM: Excel then reads the Arabic notes as UTF-8
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        rows = queryset.select_related("actor", "target_user", "content_type").order_by("created_at", "id")
        for row in rows.iterator(chunk_size=1_000):
            writer.writerow([_csv_safe(value) for value in [
                row.pk,
                row.created_at.isoformat(),
                row.actor.handle if row.actor else "",
                row.action,
                row.case_id or "",
                f"{row.content_type.app_label}.{row.content_type.model}" if row.content_type else "",
                row.object_id or "",
                row.target_user.handle if row.target_user else "",
                row.note,
                json.dumps(row.before, ensure_ascii=False, sort_keys=True),
                json.dumps(row.after, ensure_ascii=False, sort_keys=True),
            ]])
        services.audit_record(actor=request.user, action="auditlog.exported", note=f"{queryset.count()} rows")
        return response
