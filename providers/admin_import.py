"""The admin's "Import services" page: the provider's catalog fetched now, with checkboxes and a
markup; importing the picked services is one call to `provider_services_import`."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from providers.catalog_import import ImportReport, provider_catalog_preview, provider_services_import
from providers.errors import ProviderError
from providers.models import Provider
from smmpanel.errors import DomainError
from smmpanel.money import format_rate

SKIPS_SHOWN = 10


class ImportForm(forms.Form):
    upstream_id = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    all = forms.BooleanField(required=False, label="Import every service that can be sold here")
    markup = forms.DecimalField(
        required=False, max_digits=9, decimal_places=4, min_value=Decimal("-99.9999"),
        label="Markup, %", help_text="Leave blank for the provider's default markup (and follow later changes of it).",
    )

    def __init__(self, *args, upstream_ids: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["upstream_id"].choices = [(uid, uid) for uid in upstream_ids or []]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all") and not cleaned.get("upstream_id"):
            raise forms.ValidationError("Pick the services to import, or tick “Import every service”.")
        return cleaned


class ImportPage:
    def __init__(self, model_admin):
        self.model_admin = model_admin

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.has_perms(["providers.change_provider", "catalog.add_service", "catalog.change_service"])

    def view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self._allowed(request):
            raise PermissionDenied
        provider = get_object_or_404(Provider, pk=pk)
        change_page = reverse("admin:providers_provider_change", args=[pk])
        if request.method == "POST":
            # The ids are checked by the import itself (unknown ones are reported as skipped), so
            # the POST needs no second fetch of the catalog just to validate the checkboxes.
            form = ImportForm(request.POST, upstream_ids=request.POST.getlist("upstream_id"))
            if form.is_valid():
                return self._import(request, provider, form)
            for error in form.non_field_errors() + form.errors.get("markup", []):
                self.model_admin.message_user(request, error, messages.ERROR)
            return HttpResponseRedirect(request.path)
        try:
            rows = provider_catalog_preview(provider_id=pk)
        except (DomainError, ProviderError) as exc:
            self.model_admin.message_user(request, f"{provider.name}: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(change_page)
        return TemplateResponse(request, "admin/providers/provider/import_services.html", {
            **self.model_admin.admin_site.each_context(request),
            "opts": Provider._meta,
            "original": provider,
            "title": f"Import services from {provider.name}",
            "form": ImportForm(upstream_ids=[row.upstream.service_id for row in rows]),
            "rows": [
                {"row": row, "rate": None if row.rate is None else format_rate(row.rate),
                 "provider_rate": format_rate(row.upstream.rate)}
                for row in rows
            ],
            "sellable": sum(1 for row in rows if row.problem is None),
        })

    def _import(self, request: HttpRequest, provider: Provider, form: ImportForm) -> HttpResponse:
        ids = None if form.cleaned_data["all"] else form.cleaned_data["upstream_id"]
        try:
            report = provider_services_import(
                provider_id=provider.pk, upstream_ids=ids, markup_percent=form.cleaned_data["markup"],
                actor=request.user,
            )
        except (DomainError, ProviderError) as exc:
            self.model_admin.message_user(request, f"{provider.name}: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(request.path)
        for level, text in import_messages(report):
            self.model_admin.message_user(request, text, level)
        return HttpResponseRedirect(f"{reverse('admin:catalog_service_changelist')}?provider__id__exact={provider.pk}")


def import_messages(report: ImportReport) -> list[tuple[int, str]]:
    """What an import did, as admin messages."""
    result = [(messages.SUCCESS, f"{report.provider.name}: imported {len(report.created)} new service(s), "
                                 f"updated {len(report.updated)}, skipped {len(report.skipped)}.")]
    for skip in report.skipped[:SKIPS_SHOWN]:
        result.append((messages.WARNING, f"Skipped {skip.upstream_id}: {skip.reason}"))
    if len(report.skipped) > SKIPS_SHOWN:
        result.append((messages.WARNING, f"… and {len(report.skipped) - SKIPS_SHOWN} more skipped."))
    return result
