"""Baselines for bench/api.py: the least work each API action could do, in the same web server.

Not part of the product (bench/urls.py adds them; the panel's URLconf never does). They take the
same form bodies as the real API, so one load script drives both, but skip everything that is not
the action's essential query work: no key check, no field validation, no rate limit, no events.
`account` is an extra field the bench adds to its bodies (the real API ignores unknown fields)
because these views do not look the key up.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.models import Account, LedgerEntry, LedgerKind
from catalog.models import Service
from orders.models import Order

SERVICES_BYTES_KEY = "bench:services-bytes"  # bench/api.py stores the real API's answer here
STATUS_FIELDS = ("id", "charge", "start_count", "status", "remains")
_rates: dict[int, Decimal] = {}  # per process: the reference `add` must not pay for a service lookup


@csrf_exempt
def bare(request):
    """The floor of the stack: gunicorn, the middleware and a constant JSON answer."""
    return JsonResponse({"status": "ok"})


@csrf_exempt
def status_single(request):
    """One indexed select by primary key."""
    row = Order.objects.filter(pk=int(request.POST["order"])).values(*STATUS_FIELDS).first()
    return JsonResponse(row, encoder=DjangoJSONEncoder)


@csrf_exempt
def status_many(request):
    """One select with `id IN (…)` for up to 100 ids."""
    ids = [int(pk) for pk in request.POST["orders"].split(",")]
    rows = Order.objects.filter(pk__in=ids).values(*STATUS_FIELDS)
    return JsonResponse({str(row["id"]): row for row in rows}, encoder=DjangoJSONEncoder)


@csrf_exempt
def balance(request):
    """One select of one account's balance."""
    value = Account.objects.values_list("balance", flat=True).get(pk=int(request.POST["account"]))
    return JsonResponse({"balance": str(value)})


@csrf_exempt
def add(request):
    """Lock the account row, debit it, insert the order and its ledger entry: one transaction."""
    account_id = int(request.POST["account"])
    service_id = int(request.POST["service"])
    quantity = int(request.POST["quantity"])
    link = request.POST["link"]
    if service_id not in _rates:
        _rates[service_id] = Service.objects.values_list("rate", flat=True).get(pk=service_id)
    charge = (_rates[service_id] * quantity / 1000).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
    with transaction.atomic():
        balance = Account.objects.select_for_update(no_key=True).values_list("balance", flat=True).get(pk=account_id)
        if balance < charge:
            return JsonResponse({"error": "Insufficient balance"})
        Account.objects.filter(pk=account_id).update(balance=balance - charge)
        order = Order.objects.create(
            account_id=account_id, service_id=service_id, link=link, link_normalized=link,
            quantity=quantity, remains=quantity, charge=charge,
        )
        LedgerEntry.objects.create(
            account_id=account_id, kind=LedgerKind.CHARGE, amount=-charge, balance_after=balance - charge,
            order_id=order.pk,
        )
    return JsonResponse({"order": order.pk})


@csrf_exempt
def services(request):
    """Every active service with its category name through `.values()`, serialised to JSON."""
    rows = Service.objects.filter(is_active=True).values(
        "id", "name", "category__name", "rate", "min_quantity", "max_quantity", "type",
        "refill", "cancel", "dripfeed", "description",
    )
    return JsonResponse(list(rows), safe=False, encoder=DjangoJSONEncoder)


@csrf_exempt
def services_cached_bytes(request):
    """The real API's `services` answer, as bytes from the cache (one Redis GET): what a cached
    catalog could at best cost."""
    body = cache.get(SERVICES_BYTES_KEY)
    if body is None:
        return HttpResponse(b'{"error":"bench: services bytes not cached"}', content_type="application/json", status=500)
    return HttpResponse(body, content_type="application/json")
