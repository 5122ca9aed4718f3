"""The refills' admin: a list filtered by status, the actions Mark completed and Reject (run refill
by refill through orders.services.refills, reporting counts; a repeat changes nothing), and an
order's page listing its refills — for each operator role as the roles allow.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Account, LedgerEntry
from accounts.tests.factories import reseller_with_key
from catalog.models import Service
from catalog.tests.factories import ServiceFactory
from orders.models import Order, OrderStatus, Refill, RefillStatus
from orders.services import order_place, order_transition
from orders.services.refills import refill_request
from smmpanel.tests.admin_helpers import messages_of, operator, run_action

pytestmark = pytest.mark.django_db

REFILLS = reverse("admin:orders_refill_changelist")
R = RefillStatus


@pytest.fixture
def account(db) -> Account:
    return reseller_with_key("alice", "1000")


@pytest.fixture
def service(db) -> Service:
    return ServiceFactory(rate=Decimal("5"), drop_percent=10)


@pytest.fixture
def root(db):
    return operator("root", superuser=True)


def completed_order(account: Account, service: Service) -> Order:
    link = f"https://instagram.com/user{Order.objects.count()}"
    order = order_place(account=account, fields={"service": service.pk, "link": link, "quantity": "1000"},
                        actor="api:alice")
    moves = ((OrderStatus.PROCESSING, None), (OrderStatus.IN_PROGRESS, 400), (OrderStatus.COMPLETED, None))
    for status, remains in moves:
        order_transition(order_id=order.pk, new_status=status, reason="test", actor="worker", remains=remains)
    return order


def refill_in(status: str, account: Account, service: Service) -> Refill:
    """A refill requested as the API requests it, then moved to `status` as the tick would."""
    refill = refill_request(account=account, order_id=completed_order(account, service).pk)
    if status != R.PENDING:
        Refill.objects.filter(pk=refill.pk).update(status=status)
    refill.refresh_from_db()
    return refill


@pytest.fixture
def mix(account, service) -> dict[str, list[int]]:
    """Refills in every status: 3 Pending, 4 In progress, 2 Completed, 1 Rejected."""
    counts = {R.PENDING: 3, R.IN_PROGRESS: 4, R.COMPLETED: 2, R.REJECTED: 1}
    return {status: [refill_in(status, account, service).pk for _ in range(n)] for status, n in counts.items()}


def statuses() -> dict[int, str]:
    return dict(Refill.objects.values_list("pk", "status"))


def listed(page) -> set[int]:
    return {refill.pk for refill in page.context["cl"].result_list}


@pytest.mark.parametrize("role", ["superuser", "Support", "Finance"])
def test_the_refill_list_filters_by_status(client, mix, role):
    client.force_login(operator("root", superuser=True) if role == "superuser" else operator("op", role))

    everything = client.get(REFILLS)

    assert everything.status_code == 200
    assert listed(everything) == {pk for pks in mix.values() for pk in pks}
    for status, pks in mix.items():
        page = client.get(REFILLS, {"status__exact": status})
        assert listed(page) == set(pks), status
    assert f"#{Refill.objects.get(pk=mix[R.PENDING][0]).order_id}" in everything.content.decode()


@pytest.mark.parametrize("role", ["superuser", "Support"])
def test_mark_completed_ends_the_running_refills_of_a_selection(client, mix, role):
    client.force_login(operator("root", superuser=True) if role == "superuser" else operator("sam", "Support"))
    selection = [*mix[R.IN_PROGRESS], *mix[R.COMPLETED], *mix[R.REJECTED]]
    before = statuses()

    messages = run_action(client, REFILLS, "mark_completed", selection)

    assert messages == ["Completed: 4 refill(s); 3 were not running."]
    after = statuses()
    assert {pk: after[pk] for pk in selection} == {
        **{pk: R.COMPLETED for pk in mix[R.IN_PROGRESS]}, **{pk: R.COMPLETED for pk in mix[R.COMPLETED]},
        **{pk: R.REJECTED for pk in mix[R.REJECTED]},
    }
    assert all(after[pk] == before[pk] for pk in mix[R.PENDING])
    # A second run finds nothing running.
    assert run_action(client, REFILLS, "mark_completed", selection) == ["Completed: 0 refill(s); 7 were not running."]
    assert statuses() == after


@pytest.mark.parametrize("role", ["superuser", "Support"])
def test_reject_ends_pending_and_in_progress_refills_and_records_the_operator(client, mix, role):
    user = operator("root", superuser=True) if role == "superuser" else operator("sam", "Support")
    client.force_login(user)
    selection = [*mix[R.PENDING], *mix[R.IN_PROGRESS][:2], *mix[R.COMPLETED]]
    ledger = LedgerEntry.objects.count()

    messages = run_action(client, REFILLS, "reject", selection)

    assert messages == ["Rejected: 5 refill(s); 2 were not running."]
    rejected = Refill.objects.filter(pk__in=[*mix[R.PENDING], *mix[R.IN_PROGRESS][:2]])
    assert set(rejected.values_list("status", "reason")) == {(R.REJECTED, f"rejected by {user.username}")}
    assert set(Refill.objects.filter(pk__in=mix[R.IN_PROGRESS][2:]).values_list("status", flat=True)) == {
        R.IN_PROGRESS
    }
    assert set(Refill.objects.filter(pk__in=mix[R.COMPLETED]).values_list("status", flat=True)) == {R.COMPLETED}
    after = statuses()
    assert run_action(client, REFILLS, "reject", selection) == ["Rejected: 0 refill(s); 7 were not running."]
    assert statuses() == after
    assert LedgerEntry.objects.count() == ledger  # refills move no money


def test_mark_completed_on_a_pending_refill_is_refused_not_a_crash(client, root, mix):
    client.force_login(root)
    selection = [*mix[R.PENDING], mix[R.IN_PROGRESS][0]]

    messages = run_action(client, REFILLS, "mark_completed", selection)

    assert messages[0] == "Completed: 1 refill(s); 0 were not running."
    assert messages[1:] == ["Refused 3 refill(s): A refill cannot move from Pending to Completed"]
    assert {statuses()[pk] for pk in mix[R.PENDING]} == {R.PENDING}


def test_finance_sees_refills_but_runs_no_refill_action(client, mix):
    client.force_login(operator("fran", "Finance"))

    page = client.get(REFILLS)

    assert page.status_code == 200 and page.context["action_form"] is None
    before = statuses()
    client.post(REFILLS, {"action": "reject", "_selected_action": mix[R.PENDING], "index": "0"})
    assert statuses() == before


def test_refills_are_not_edited_added_or_deleted_by_hand(client, root, mix):
    client.force_login(root)
    refill = Refill.objects.get(pk=mix[R.PENDING][0])
    url = reverse("admin:orders_refill_change", args=[refill.pk])

    assert client.get(url).status_code == 200  # read-only page
    assert client.post(url, {"status": R.COMPLETED, "quantity": "0"}).status_code == 403
    assert client.get(reverse("admin:orders_refill_add")).status_code == 403
    assert client.post(reverse("admin:orders_refill_delete", args=[refill.pk]), {"post": "yes"}).status_code == 403
    assert Refill.objects.get(pk=refill.pk).status == R.PENDING


@pytest.mark.parametrize("role", ["superuser", "Support", "Finance"])
def test_the_order_page_shows_its_refills(client, account, service, role):
    order = completed_order(account, service)
    first = refill_request(account=account, order_id=order.pk)
    Refill.objects.filter(pk=first.pk).update(status=R.REJECTED, reason="nothing dropped")
    second = refill_request(account=account, order_id=order.pk)
    other = refill_in(R.PENDING, account, service)
    client.force_login(operator("root", superuser=True) if role == "superuser" else operator("op", role))

    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert page.status_code == 200
    refill_sets = [formset for formset in page.context["inline_admin_formsets"] if formset.opts.model is Refill]
    assert len(refill_sets) == 1
    shown = list(refill_sets[0].formset.queryset.values_list("pk", "status", "quantity", "reason"))
    assert shown == [(second.pk, R.PENDING, 100, ""), (first.pk, R.REJECTED, 100, "nothing dropped")]
    assert other.pk not in {pk for pk, *_ in shown}
    assert "nothing dropped" in page.content.decode()


def test_the_refill_list_runs_a_fixed_number_of_queries(client, root, account, service, django_assert_max_num_queries):
    for _ in range(30):
        refill_in(R.PENDING, account, service)
    client.force_login(root)
    with django_assert_max_num_queries(15):
        assert client.get(REFILLS).status_code == 200
    assert messages_of(client.get(REFILLS)) == []
