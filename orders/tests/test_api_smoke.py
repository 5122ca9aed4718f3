"""The seed's six actions answer through real HTTP in the documented shapes."""
from decimal import Decimal

from accounts.models import LedgerEntry
from catalog.tests.factories import ServiceFactory
from orders.models import Order


def test_place_read_and_cancel_an_order(api, reseller):
    service = ServiceFactory(rate=Decimal("5"))
    assert api("services") == [
        {
            "service": service.pk, "name": service.name, "category": "Instagram", "rate": "5.0000",
            "min": 100, "max": 5000, "type": "Default", "refill": True, "cancel": True,
            "dripfeed": False, "description": "Followers",
        }
    ]
    assert api("balance") == {"balance": "100.00", "currency": "TRY"}

    answer = api("add", service=service.pk, link="https://instagram.com/alice", quantity=1000)
    order_id = answer["order"]
    assert answer == {"order": order_id}
    assert api("status", order=order_id) == {
        "charge": "5.00", "start_count": 0, "status": "Pending", "remains": 1000, "currency": "TRY",
    }
    assert api("balance") == {"balance": "95.00", "currency": "TRY"}
    assert api("multipleStatus", orders=f"{order_id},999999") == {
        str(order_id): {"charge": "5.00", "start_count": 0, "status": "Pending", "remains": 1000, "currency": "TRY"},
        "999999": {"error": "Order not found"},
    }
    assert api("cancel", order=order_id) == {"cancel": order_id, "status": "success"}
    assert api("cancel", order=order_id) == {"error": "Order cannot be canceled"}
    assert api("status", order=order_id)["status"] == "Canceled"
    assert api("balance") == {"balance": "100.00", "currency": "TRY"}
    assert Order.objects.get().status == "Canceled"
    assert [e.kind for e in LedgerEntry.objects.order_by("id")] == ["deposit", "charge", "refund"]
