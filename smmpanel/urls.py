from django.contrib import admin
from django.urls import path, re_path

from orders.api.views import ResellerApiView, api_docs
from smmpanel import health, metrics

api = ResellerApiView.as_view()

admin.site.site_header = "SMM Panel"
admin.site.site_title = "SMM Panel admin"
admin.site.index_title = "Dashboard"
admin.site.site_url = None  # no public site besides the API

urlpatterns = [
    # Each path answers with and without a trailing slash, directly: a redirect would make
    # clients re-send their POST as a body-less GET.
    re_path(r"^api/v2/?$", api, name="api-v2"),
    re_path(r"^api/v1/?$", api, name="api-v1"),
    re_path(r"^api\.php/?$", api, name="api-php"),
    path("api/", api_docs, name="api-docs"),  # the reference for humans; the API itself is above
    path("admin/", admin.site.urls),
    # Liveness (database only) for containers and load balancers; the full report for operators.
    path("health/live/", health.live, name="health-live"),
    path("health/", health.health, name="health"),
    # Prometheus, exactly here (no trailing slash); METRICS_TOKEN guards it when set.
    path("metrics", metrics.metrics, name="metrics"),
]
