from decimal import Decimal

from accounts.models import Account
from accounts.services import reseller_create


def reseller_with_key(username: str, balance: Decimal | str = "100") -> Account:
    """A reseller with funds and a fresh key, kept on the returned account as `.key`."""
    account, key = reseller_create(username=username, balance=Decimal(balance))
    account.key = key
    return account
