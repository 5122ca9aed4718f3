"""What can go wrong when calling a provider, sorted by what the caller should do about it.

    ProviderError                   base; `message` never contains the API key
    ├── ProviderTemporaryError      nothing was done upstream: try again later
    │   └── ProviderAuthError       …but only after an operator fixes the key or the account
    ├── ProviderPermanentError      the provider refused this request for good
    ├── ProviderOutOfFunds          our balance at the provider is too low: wait for a top-up
    └── ProviderOutcomeUnknown      `add` only: the order may or may not exist upstream

`provider_message` is the provider's own error text (key redacted), when it sent one.

Sorting an `{"error": …}` answer (`error_for_message`): out-of-funds and key/account wordings are
recognised first, then wordings that say "later" (rate limits, maintenance, a busy link); every
other text — the known `Invalid link`, `Service not found`, `Quantity less than minimal …`,
`Incorrect request`, and texts we have never seen — is permanent. An unknown text is permanent
because the provider did answer, clearly refusing; retrying something refused for a reason we
cannot read would loop forever unseen, while a permanent error is visible (a canceled and
refunded order, or, with the provider's `on_permanent_error = hold`, an order held for an operator).
"""
from __future__ import annotations

import re


class ProviderError(Exception):
    def __init__(self, message: str, *, provider_message: str | None = None):
        self.message = message
        self.provider_message = provider_message
        super().__init__(message)


class ProviderTemporaryError(ProviderError):
    """Timeouts before anything was sent, connection errors, 5xx, garbage bodies, rate limits."""


class ProviderAuthError(ProviderTemporaryError):
    """The provider refuses our key or account (`Invalid API key`, suspended …).

    A provider-level fault, not the order's: orders wait (they are not canceled) and the provider's
    health shows the error until an operator fixes it. A subclass of ProviderTemporaryError so a
    caller that only knows the three outcomes treats it as "nothing happened, later".
    """


class ProviderPermanentError(ProviderError):
    """The provider refused this request and would refuse it again (invalid link, no such service …)."""


class ProviderOutOfFunds(ProviderError):
    """Our balance at the provider cannot pay for the order."""


class ProviderOutcomeUnknown(ProviderError):
    """`add` was sent but no order id came back (read timeout, dropped connection, 5xx, garbage).

    The provider may have created the order. Never resend: hold the order (`needs_checking`) and
    resolve it by asking the provider (or an operator), since a blind resend can buy twice.
    """


_OUT_OF_FUNDS = re.compile(
    r"(not enough|insufficient|low|no)( \w+)? (funds|balance)|balance (is )?(too )?low|top up|add funds"
)
_AUTH = re.compile(
    r"(invalid|incorrect|wrong|bad|unknown|expired) (api )?key|(api )?key (is )?(invalid|incorrect|wrong|not valid)"
    r"|unauthori[sz]ed|access denied|forbidden|(account|user) (is )?(suspended|banned|blocked|disabled|inactive)"
)
_TEMPORARY = re.compile(
    r"too many|rate limit|try (again )?later|maintenance|temporar|timed? ?out|overload|busy"
    r"|server error|internal error|database error|active order"
)


def normalize_message(text: str) -> str:
    """`neworder.error.not_enough_funds` → `neworder error not enough funds`, for matching."""
    return " ".join(re.sub(r"[._\-:/]+", " ", text.lower()).split())


def error_for_message(message: str, *, where: str = "provider") -> ProviderError:
    """The exception an `{"error": message}` answer stands for (see the module docstring).

    `where` starts the exception's message (the client passes `<provider name>: `<action>``).
    """
    text = normalize_message(message)
    if _OUT_OF_FUNDS.search(text):
        kind, summary = ProviderOutOfFunds, "out of funds"
    elif _AUTH.search(text):
        kind, summary = ProviderAuthError, "key or account refused"
    elif _TEMPORARY.search(text):
        kind, summary = ProviderTemporaryError, "asked to retry"
    else:
        kind, summary = ProviderPermanentError, "refused"
    return kind(f"{where}: {summary}: {message}", provider_message=message)
