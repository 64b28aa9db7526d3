"""Drive the sandbox payment provider: confirm or fail pending sandbox payments.

    manage.py wallet_sandbox --list
    manage.py wallet_sandbox --pay 7301234567890            # one payment
    manage.py wallet_sandbox --fail 7301234567890
    manage.py wallet_sandbox --pay-all                      # every pending sandbox payment

Each settlement is delivered as a signed callback through the real webhook path.
"""

from django.core.management.base import BaseCommand, CommandError

from daira.lib.errors import ApplicationError
from wallet import services
from wallet.models import Payment


class Command(BaseCommand):
    help = "Confirm or fail sandbox payments (the sandbox provider's side)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--list", action="store_true", help="List pending sandbox payments")
        group.add_argument("--pay", type=int, metavar="PAYMENT_ID")
        group.add_argument("--fail", type=int, metavar="PAYMENT_ID")
        group.add_argument("--expire", type=int, metavar="PAYMENT_ID")
        group.add_argument("--refund", type=int, metavar="PAYMENT_ID")
        group.add_argument("--pay-all", action="store_true")

    def handle(self, *args, **options):
        pending = Payment.objects.filter(provider="sandbox", status__in=("created", "pending")).order_by("id")
        if options["list"]:
            for payment in pending:
                self.stdout.write(f"{payment.pk}\t{payment.purpose}\t{payment.amount_piastres / 100:.2f} EGP\tuser {payment.user_id}")
            return
        if options["pay_all"]:
            targets, outcome = list(pending), "paid"
        else:
            outcome, payment_id = next(
                (name if name != "pay" else "paid", options[name]) for name in ("pay", "fail", "expire", "refund")
                if options[name] is not None
            )
            outcome = {"fail": "failed", "expire": "expired", "refund": "refunded"}.get(outcome, outcome)
            payment = Payment.objects.filter(pk=payment_id).first()
            if payment is None:
                raise CommandError(f"No payment {payment_id}.")
            targets = [payment]
        for payment in targets:
            try:
                event = services.sandbox_settle(payment=payment, outcome=outcome)
            except ApplicationError as exc:
                raise CommandError(f"{payment.pk}: {exc.message}") from exc
            self.stdout.write(f"{payment.pk}: {outcome} → {event.outcome}")
