from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.management.arguments import amount
from accounts.services import reseller_create
from smmpanel.errors import DomainError
from smmpanel.money import format_amount


class Command(BaseCommand):
    help = (
        "Create a reseller (a user with an account) and issue its first API key. "
        "The key is printed as the last line of output; it is not stored and cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--balance", type=amount, default=Decimal(0), help="Opening deposit (default 0).")

    def handle(self, *args, username: str, balance: Decimal, **options):
        User = get_user_model()
        try:  # the user model's own rules (length, characters), checked before anything is written
            User._meta.get_field(User.USERNAME_FIELD).clean(username, None)
        except ValidationError as exc:
            raise CommandError(f"Invalid username {username!r}: {' '.join(exc.messages)}") from exc
        try:
            account, key = reseller_create(username=username, balance=balance)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created reseller {username} with balance {format_amount(account.balance)}.")
        self.stdout.write(key)
