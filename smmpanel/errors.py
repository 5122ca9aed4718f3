"""The domain's error hierarchy. Services raise these; the API maps `message` to `{"error": …}`.

The messages are part of the wire contract (docs/api.md): clients compare them as strings.
"""
from __future__ import annotations


class DomainError(Exception):
    message = "Request failed"

    def __init__(self, message: str | None = None):
        if message is not None:
            self.message = message
        super().__init__(self.message)


class InvalidApiKey(DomainError):
    message = "Invalid API key"


class IpNotAllowed(DomainError):
    """A valid key used from an address outside its allow-list (docs/security.md, "API keys")."""

    message = "IP address not allowed for this key"


class InvalidAction(DomainError):
    message = "Invalid action"


class ServiceNotFound(DomainError):
    message = "Service not found"


class InsufficientBalance(DomainError):
    message = "Insufficient balance"


class MissingParameters(DomainError):
    message = "Missing parameters"


class OrderNotFound(DomainError):
    message = "Order not found"


class InvalidParameter(DomainError):
    def __init__(self, name: str):
        self.field = name
        super().__init__(f"Invalid parameter: {name}")


class QuantityOutOfBounds(DomainError):
    @classmethod
    def below(cls, minimum: int) -> QuantityOutOfBounds:
        return cls(f"Quantity less than minimal {minimum}")

    @classmethod
    def above(cls, maximum: int) -> QuantityOutOfBounds:
        return cls(f"Quantity more than maximum {maximum}")


class InvalidLink(DomainError):
    message = "Invalid link"


class ActiveOrderExists(DomainError):
    message = "You have active order with this link. Please wait until order being completed."


class DripFeedNotAvailable(DomainError):
    message = "Drip-feed is not available for this service"


class OrderNotCancelable(DomainError):
    message = "Order cannot be canceled"


class TooManyIds(DomainError):
    message = "Too many orders in one request"


class RequestTooLarge(DomainError):
    message = "Request too large"


class InvalidRequestBody(DomainError):
    message = "Invalid request body"


class IdempotencyKeyReused(DomainError):
    message = "Idempotency key already used with other parameters"


class IllegalTransition(DomainError):
    """An order status move the lifecycle table does not allow."""

    def __init__(self, old: str, new: str):
        super().__init__(f"Order cannot move from {old} to {new}")


class RefillNotAvailable(DomainError):
    message = "Refill is not available for this order"


class RefillNotFound(DomainError):
    message = "Refill not found"


class TooManyRequests(DomainError):
    """A rate limit is spent; `retry_after` is the seconds to its window's end (the `Retry-After` header)."""

    message = "Too many requests"

    def __init__(self, retry_after: int = 1):
        self.retry_after = retry_after
        super().__init__()
