from django.core.management.base import BaseCommand, CommandError

from accounts.management.arguments import amount as amount_type
from accounts.models import Account
from accounts.services import account_deposit
from smmpanel.errors import DomainError
from smmpanel.money import format_amount


class Command(BaseCommand):
    help = "Deposit AMOUNT into a reseller's account, written to the ledger as a deposit."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("amount", type=amount_type)
        parser.add_argument("--memo", default="Deposit via add_funds", help="Reason kept with the ledger entry.")

    def handle(self, *args, username: str, amount, memo: str, **options):
        account = Account.objects.filter(user__username=username).first()
        if account is None:
            raise CommandError(f"No reseller named {username!r}")
        try:
            entry = account_deposit(account=account, amount=amount, memo=memo)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Deposited {format_amount(entry.amount)} to {username}; balance is now {format_amount(entry.balance_after)}.")
