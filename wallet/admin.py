"""Finance admin: ledger browser, payments (with sandbox controls), payouts queue with
maker-checker, batches (CSV), reconciliation imports and the audit log.

Nothing here writes money directly: every action calls a service, which checks the
finance permission (wallet.approve_payout), applies maker-checker and writes the audit log.
Ledger rows are read-only (the database refuses edits to entries anyway).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse

from daira.lib.errors import ApplicationError
from wallet import ledger, services
from wallet.models import (
    Account,
    AuditLog,
    Entry,
    Payment,
    PaymentEvent,
    Payout,
    PayoutApproval,
    PayoutBatch,
    ReconciliationMismatch,
    ReconciliationRun,
    Subscription,
    SubscriptionTier,
    Transfer,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("id", "transfer", "account", "amount", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-id",)

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transfer", "account")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "is_platform", "kind", "provider", "shard", "currency", "balance")
    list_filter = ("is_platform", "kind", "currency")
    search_fields = ("=id", "owner__handle")
    list_select_related = ("owner",)
    actions = ["check_invariants"]

    def get_inlines(self, request, obj):
        # A platform account has millions of lines: browse them through the Entry list instead.
        return [] if obj is None or obj.is_platform else [EntryInline]

    @admin.action(description="Check the ledger invariants (zero-sum, balances = lines)")
    def check_invariants(self, request, queryset):
        problems = ledger.invariant_violations()
        if problems:
            self.message_user(request, "; ".join(problems[:20]), level=messages.ERROR)
        else:
            self.message_user(request, "The books balance: every invariant holds.")


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "transfer", "account", "amount", "created_at")
    search_fields = ("=transfer__id", "=account__id", "account__owner__handle")
    list_select_related = ("transfer", "account")


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "status", "memo", "idempotency_key", "reverses", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("=id", "idempotency_key")
    inlines = [EntryInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "provider", "method", "purpose", "amount_piastres", "coins", "status", "created_at")
    list_filter = ("provider", "status", "purpose")
    search_fields = ("=id", "provider_reference", "user__handle")
    actions = ["sandbox_paid", "sandbox_failed", "refund"]

    def _settle(self, request, queryset, outcome):
        done = 0
        for payment in queryset:
            try:
                event = services.sandbox_settle(payment=payment, outcome=outcome)
            except ApplicationError as exc:
                self.message_user(request, f"{payment.pk}: {exc.message}", level=messages.ERROR)
                continue
            done += event.outcome == "applied"
        self.message_user(request, f"{done} payment(s) marked {outcome} through the sandbox callback.")

    @admin.action(description="Sandbox: the provider confirms (paid)")
    def sandbox_paid(self, request, queryset):
        self._settle(request, queryset, "paid")

    @admin.action(description="Sandbox: the provider fails it")
    def sandbox_failed(self, request, queryset):
        self._settle(request, queryset, "failed")

    @admin.action(description="Refund (asks the provider, then records it)")
    def refund(self, request, queryset):
        for payment in queryset:
            try:
                services.payment_refund(payment_id=payment.pk, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{payment.pk}: {exc.message}", level=messages.ERROR)


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "provider", "payment", "source", "signature_valid", "reported_status", "outcome", "received_at")
    list_filter = ("provider", "signature_valid", "outcome")


class PayoutApprovalInline(admin.TabularInline):
    model = PayoutApproval
    fields = ("staff", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    """The payouts queue. Approve (maker-checker: a second, different staff member above the
    threshold), reject, export approved ones as a CSV batch, then mark bank results."""

    list_display = ("id", "user", "amount_egp", "status", "approvals", "destination_type", "created_at")
    list_filter = ("status", "destination_type")
    search_fields = ("=id", "user__handle")
    inlines = [PayoutApprovalInline]
    actions = ["approve", "reject", "export_batch", "mark_paid", "mark_failed"]

    @admin.display(description="EGP")
    def amount_egp(self, payout):
        return f"{payout.amount_piastres / 100:,.2f}"

    @admin.display(description="approvals")
    def approvals(self, payout):
        return f"{payout.approvals.count()}/{payout.approvals_required}"

    def _each(self, request, queryset, action, **kwargs):
        for payout in queryset:
            try:
                action(payout_id=payout.pk, staff=request.user, **kwargs)
            except ApplicationError as exc:
                self.message_user(request, f"{payout.pk}: {exc.message}", level=messages.ERROR)

    @admin.action(description="Approve (maker-checker)")
    def approve(self, request, queryset):
        self._each(request, queryset, services.payout_approve)

    @admin.action(description="Reject (funds return to earnings)")
    def reject(self, request, queryset):
        self._each(request, queryset, services.payout_reject, reason="rejected by finance")

    @admin.action(description="Export all approved payouts as a CSV batch")
    def export_batch(self, request, queryset):
        try:
            batch = services.payouts_export_batch(staff=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return None
        return _csv_response(batch)

    @admin.action(description="Mark paid by the bank")
    def mark_paid(self, request, queryset):
        self._each(request, queryset, services.payout_mark_paid)

    @admin.action(description="Mark failed (funds return to earnings)")
    def mark_failed(self, request, queryset):
        self._each(request, queryset, services.payout_mark_failed, reason="failed at the bank")


def _csv_response(batch: PayoutBatch) -> HttpResponse:
    response = HttpResponse(batch.csv, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="payouts-{batch.pk}.csv"'
    return response


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_by", "created_at")
    actions = ["download"]

    @admin.action(description="Download the CSV")
    def download(self, request, queryset):
        return _csv_response(queryset.first())


class ReconciliationForm(forms.ModelForm):
    provider = forms.ChoiceField(choices=[(name, name) for name in ("fawry", "paymob", "instapay", "sandbox")])
    file = forms.FileField(help_text="Settlement CSV: merchant_reference, provider_reference, amount, status, settled_at")

    class Meta:
        model = ReconciliationRun
        fields = ("provider",)


class MismatchInline(admin.TabularInline):
    model = ReconciliationMismatch
    fields = ("kind", "payment", "reference", "ledger_amount", "settlement_amount", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    """The reconciliation report: import a settlement file, see each mismatch with the ledger."""

    list_display = ("id", "provider", "filename", "lines", "matched", "mismatch_count", "created_at")
    form = ReconciliationForm

    def get_inlines(self, request, obj):
        return [MismatchInline] if obj is not None else []

    @admin.display(description="mismatches")
    def mismatch_count(self, run):
        return run.mismatches.count()

    def get_readonly_fields(self, request, obj=None):
        return ("provider", "filename", "lines", "matched", "period_start", "period_end", "imported_by") if obj else ()

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
            kwargs["fields"] = ()
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        upload = form.cleaned_data["file"]
        run = services.reconciliation_import(provider=obj.provider, csv_text=upload.read().decode("utf-8-sig"),
                                             staff=request.user, filename=upload.name)
        obj.pk = obj.id = run.pk
        obj._state.adding = False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("id", "actor", "action", "object_type", "object_id", "created_at")
    list_filter = ("action", "object_type")
    search_fields = ("=object_id", "actor__handle")


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("id", "subscriber", "creator", "tier_level", "pay_with", "status", "current_period_end", "cancel_at_period_end")
    list_filter = ("status", "pay_with")


@admin.register(SubscriptionTier)
class SubscriptionTierAdmin(ReadOnlyAdmin):
    list_display = ("id", "creator", "level", "name", "price_piastres", "is_active")
