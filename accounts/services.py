"""Every write that touches money or API keys. The only code that changes a balance."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import allowlist, key_cache
from accounts.models import Account, ApiKey, LedgerEntry, LedgerKind
from smmpanel import logs
from smmpanel.errors import DomainError, InsufficientBalance, InvalidApiKey, IpNotAllowed
from smmpanel.money import AMOUNT_QUANTUM, to_amount

KEY_BYTES = 32  # 43 URL-safe characters
KEY_MAX_LENGTH = 128
LAST_USED_RESOLUTION = timedelta(minutes=1)
_BALANCE_FIELD = Account._meta.get_field("balance")
MAX_BALANCE = Decimal(10) ** (_BALANCE_FIELD.max_digits - _BALANCE_FIELD.decimal_places) - AMOUNT_QUANTUM


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ledger_post(
    *,
    account_id: int,
    amount: Decimal,
    kind: str,
    order_id: int | None = None,
    memo: str = "",
    created_by=None,
) -> LedgerEntry:
    """Move an account's balance by `amount` and log it; locks the account row.

    Raises InsufficientBalance (and changes nothing) when the balance would go below zero.
    """
    amount = to_amount(amount)
    with transaction.atomic(savepoint=False):
        new_balance = _move_balance(account_id, amount)
        if new_balance is not None:
            return LedgerEntry.objects.create(
                account_id=account_id,
                kind=kind,
                amount=amount,
                balance_after=new_balance,
                order_id=order_id,
                memo=memo,
                created_by=created_by,
            )
    # Raised outside the savepoint-less block: an exception inside it would mark a caller's
    # enclosing transaction (e.g. an admin form's) as broken, although nothing was written.
    # A debit can only break the floor, a credit only the ceiling (the balance is within both).
    if amount < 0:
        raise InsufficientBalance()
    raise DomainError("Balance would exceed the largest amount the ledger holds")


def _move_balance(account_id: int, amount: Decimal) -> Decimal | None:
    """Add `amount` to the balance under the account's row lock; the new balance, or None (nothing
    changed) when it would leave [0, MAX_BALANCE]. Account.DoesNotExist for an unknown account.

    NO KEY lock in both forms: foreign-key checks of rows pointing at the account must not wait
    for it (see orders.services.transitions.lock_account).
    """
    if connection.vendor == "postgresql":
        # One statement: the UPDATE takes the row lock (FOR NO KEY UPDATE, as the balance is no key),
        # checks the bounds on the locked row and returns the result. It replaced a SELECT … FOR NO
        # KEY UPDATE then an UPDATE: a statement less inside every lock on a busy account.
        # numeric arithmetic is exact in PostgreSQL (not in SQLite, below).
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Account._meta.db_table} SET balance = balance + %s"
                " WHERE id = %s AND balance + %s BETWEEN 0 AND %s RETURNING balance",
                [amount, account_id, amount, MAX_BALANCE],
            )
            row = cursor.fetchone()
        if row is None and not Account.objects.filter(pk=account_id).exists():
            raise Account.DoesNotExist(f"Account {account_id} does not exist")
        return None if row is None else row[0]
    # SQLite: the IMMEDIATE transaction already holds the database's write lock; the sum is
    # computed in Python, as Decimal.
    balance = Account.objects.select_for_update(no_key=True).values_list("balance", flat=True).get(pk=account_id)
    new_balance = balance + amount
    if not 0 <= new_balance <= MAX_BALANCE:
        return None
    Account.objects.filter(pk=account_id).update(balance=new_balance)
    return new_balance


@dataclass(frozen=True)
class Posting:
    account_id: int
    amount: Decimal
    order_id: int | None = None
    memo: str = ""


def _write_balances(balances: dict[int, Decimal]) -> None:
    """Store the new balances of accounts the caller has locked: on PostgreSQL in one statement
    (a tick refunds hundreds of accounts at once), elsewhere one UPDATE per account."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Account._meta.db_table} AS a SET balance = v.balance"
                " FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, balance) WHERE a.id = v.id",
                [list(balances), list(balances.values())],
            )
        return
    for account_id, balance in balances.items():
        Account.objects.filter(pk=account_id).update(balance=balance)


def ledger_post_many(*, postings: Sequence[Posting], kind: str) -> list[LedgerEntry]:
    """Post many credits at once (e.g. a tick's refunds): locks the accounts in primary-key order,
    inserts the entries in bulk and updates each account's balance once.
    """
    if not postings:
        return []
    with transaction.atomic(savepoint=False):
        account_ids = sorted({posting.account_id for posting in postings})
        balances = dict(
            Account.objects.select_for_update(no_key=True)
            .filter(pk__in=account_ids).order_by("pk").values_list("pk", "balance")
        )
        entries = []
        for posting in postings:
            amount = to_amount(posting.amount)
            if amount < 0:
                raise ValueError("ledger_post_many only credits; debits go through ledger_post")
            balances[posting.account_id] += amount
            entries.append(
                LedgerEntry(
                    account_id=posting.account_id,
                    kind=kind,
                    amount=amount,
                    balance_after=balances[posting.account_id],
                    order_id=posting.order_id,
                    memo=posting.memo,
                )
            )
        LedgerEntry.objects.bulk_create(entries)
        _write_balances(balances)
    return entries


def account_deposit(*, account: Account, amount: Decimal, memo: str = "", created_by=None) -> LedgerEntry:
    """Add funds to an account; locks the account row."""
    amount = to_amount(amount)
    if amount <= 0:
        raise DomainError("Amount must be positive")
    return ledger_post(
        account_id=account.pk, amount=amount, kind=LedgerKind.DEPOSIT, memo=memo, created_by=created_by
    )


def account_adjust(*, account: Account, amount: Decimal, memo: str, created_by=None) -> LedgerEntry:
    """Correct a balance up or down by an operator, with a reason; locks the account row."""
    amount = to_amount(amount)
    if amount == 0:
        raise DomainError("Amount must not be zero")
    if not memo.strip():
        raise DomainError("A memo is required for an adjustment")
    return ledger_post(
        account_id=account.pk, amount=amount, kind=LedgerKind.ADJUSTMENT, memo=memo, created_by=created_by
    )


def account_deduct(*, account: Account, amount: Decimal, memo: str, created_by=None) -> LedgerEntry:
    """Take funds from an account (never below zero), with a reason; locks the account row."""
    amount = to_amount(amount)
    if amount <= 0:
        raise DomainError("Amount must be positive")
    return account_adjust(account=account, amount=-amount, memo=memo, created_by=created_by)


def account_set_active(*, account: Account, active: bool) -> bool:
    """Enable or disable an account (a disabled account's keys are refused at once); True if changed."""
    return bool(Account.objects.filter(pk=account.pk).exclude(is_active=active).update(is_active=active))


def reseller_create(*, username: str, balance: Decimal = Decimal(0), created_by=None) -> tuple[Account, str]:
    """Create a user with an account (and an opening deposit) and issue its first API key.

    Returns the account and the key in clear: the only time it exists outside the client.
    """
    User = get_user_model()
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise DomainError(f"User {username!r} already exists")
        try:
            user = User.objects.create_user(username=username)
        except IntegrityError as exc:  # created concurrently
            raise DomainError(f"User {username!r} already exists") from exc
        account = Account.objects.create(user=user)
        if balance:
            account_deposit(account=account, amount=balance, memo="Opening balance", created_by=created_by)
        _, key = apikey_issue(account=account, label="first key")
    account.refresh_from_db(fields=["balance"])
    return account, key


def apikey_issue(*, account: Account, label: str = "") -> tuple[ApiKey, str]:
    """Create a new key for an account; returns the row and the key in clear (never stored)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    api_key = ApiKey.objects.create(account=account, prefix=key[:8], digest=_digest(key), label=label)
    return api_key, key


def apikey_revoke(*, api_key: ApiKey) -> None:
    """Stop a key from working; a second call keeps the first revocation time.

    Every web process refuses the key from its next call on: the write notifies the processes'
    key caches (accounts/key_cache.py).
    """
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def apikey_set_allowed_ips(*, api_key: ApiKey, allowed_ips: str) -> ApiKey:
    """Replace a key's IP allow-list (empty: any address); stored canonical. Takes effect at the
    key's next call in every process. Raises DomainError naming the entries that are not addresses."""
    try:
        stored = allowlist.canonical(allowed_ips)
    except ValidationError as exc:
        raise DomainError("; ".join(exc.messages)) from None
    ApiKey.objects.filter(pk=api_key.pk).update(allowed_ips=stored)
    api_key.allowed_ips = stored
    return api_key


def apikey_verify(*, key: str | None, client_ip: str | None) -> ApiKey:
    """The key's row (with its account and user) when the key may be used from `client_ip`.

    InvalidApiKey for a missing, unknown or revoked key or a disabled account; IpNotAllowed when the
    key has an allow-list without this address (the error carries the key row, for the request log).
    Records the key's last use and address.
    """
    if not key or len(key) > KEY_MAX_LENGTH:
        raise InvalidApiKey()
    digest = _digest(key)
    api_key = key_cache.apikey_for(digest=digest)
    if api_key is None:
        raise InvalidApiKey()
    if not allowlist.admits(api_key.allowed_ips, client_ip):
        refused = IpNotAllowed()
        refused.api_key = api_key
        raise refused
    if _record_use(api_key, client_ip):
        key_cache.note_use(digest=digest, api_key=api_key)
    # The request's later log lines name the reseller (RequestContextMiddleware unbinds it).
    logs.bind_in_request(account=api_key.account.user.username)
    return api_key


def apikey_authenticate(*, key: str | None, client_ip: str | None = None) -> Account:
    """The active account a key belongs to, or InvalidApiKey / IpNotAllowed (see apikey_verify)."""
    return apikey_verify(key=key, client_ip=client_ip).account


def _record_use(api_key: ApiKey, client_ip: str | None) -> bool:
    """Write the key's last use: at most once a minute per key, and when the address changes.
    Whether it was due (then `api_key` holds the use written).

    One conditional UPDATE, so concurrent calls of one key write it once, not once each.
    """
    now = timezone.now()
    stale = api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION
    moved = client_ip is not None and client_ip != api_key.last_used_ip
    if not (stale or moved):
        return False
    due = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
    if client_ip is not None:
        # A new address is written at once; `lte=now` keeps a request whose clock lags behind
        # from moving the time back (it records nothing; the next call will).
        due |= Q(last_used_at__lte=now) & ~Q(last_used_ip=client_ip)
    ApiKey.objects.filter(pk=api_key.pk).filter(due).update(last_used_at=now, last_used_ip=client_ip)
    api_key.last_used_at, api_key.last_used_ip = now, client_ip
    return True
