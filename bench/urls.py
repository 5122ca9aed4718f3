"""The product's URLs, and the benchmark's baselines beside them (bench/reference.py)."""
from django.urls import path

from bench import reference
from smmpanel.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    *product_urlpatterns,
    path("bench/bare", reference.bare),
    path("bench/ref/status", reference.status_single),
    path("bench/ref/status100", reference.status_many),
    path("bench/ref/balance", reference.balance),
    path("bench/ref/add", reference.add),
    path("bench/ref/services", reference.services),
    path("bench/bare/services", reference.services_cached_bytes),
]
