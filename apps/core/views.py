"""Pages for the project switcher, providers and API keys."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import price_services, selectors, services
from .forms import ApiKeyForm, PriceForm, ProjectForm, ProviderForm
from .inputs import query_int
from .llm.errors import LLMError
from .models import Membership, Provider
from .pricing import price_input_text
from .web import SESSION_PROJECT, project_view, render_page


@project_view
def home(request: HttpRequest, membership: Membership) -> HttpResponse:
    providers = selectors.provider_list(project=membership.project)
    return render(request, "core/home.html", {"providers": providers})


@login_required
@require_POST
def project_switch(request: HttpRequest) -> HttpResponse:
    membership = selectors.membership_get(
        user=request.user, project_id=query_int(request.POST, "project_id", 0, minimum=1) or 0
    )
    request.session[SESSION_PROJECT] = membership.project_id
    target = request.POST.get("next", "")
    # Only back to a page of this site: an off-site `next` would make the switcher an
    # open redirect.
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "home"
    return redirect(target)


@login_required
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        assert isinstance(request.user, User)  # login_required
        project = services.project_create(name=form.cleaned_data["name"], owner=request.user)
        request.session[SESSION_PROJECT] = project.pk
        messages.success(request, f"Project “{project.name}” created.")
        return redirect("home")
    return render(request, "core/project_form.html", {"form": form})


# --- providers -----------------------------------------------------------------------


@project_view
def provider_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    providers = selectors.provider_list_with_prices(project=membership.project)
    for provider in providers:
        # The default model's price, as the list shows it.
        prices = {price.model: price for price in provider.prices.all()}
        provider.default_price = prices.get(provider.default_model)  # type: ignore[attr-defined]
    return render(request, "core/providers.html", {"providers": providers})


@project_view
def provider_detail(request: HttpRequest, membership: Membership, provider_id: int) -> HttpResponse:
    provider = selectors.provider_get(project=membership.project, provider_id=provider_id)
    context = {"provider": provider, **_prices_context(provider, membership)}
    return render(request, "core/provider_detail.html", context)


def _prices_context(
    provider: Provider,
    membership: Membership,
    *,
    failed: PriceForm | None = None,
    saved: str = "",
) -> dict:
    """The Prices table: one row per priced model, plus the default model while it has no
    price. `failed` is the form that did not pass, shown with its errors in its row (or in
    the add row for a model not in the table)."""
    failed_model = (failed.data.get("model") or "").strip() if failed else None
    rows: list[dict[str, Any]] = []
    for price in selectors.price_list(provider=provider):
        rows.append({"model": price.model, "price": price})
    if provider.default_model and all(r["model"] != provider.default_model for r in rows):
        rows.append({"model": provider.default_model, "price": None})
    for n, row in enumerate(rows):
        price = row["price"]
        row["id"] = f"price-{n}"
        if failed is not None and row["model"] == failed_model:
            failed.auto_id = f"id_{row['id']}_%s"
            row["form"], failed = failed, None
        else:
            initial: dict[str, Any] = {"model": row["model"]}
            if price is not None:
                initial["input_per_million"] = price_input_text(price.input_per_million)
                initial["output_per_million"] = price_input_text(price.output_per_million)
            row["form"] = PriceForm(initial=initial, auto_id=f"id_{row['id']}_%s")
    if failed is not None:  # a model not in the table: the add row shows it
        failed.auto_id = "id_new_price_%s"
    return {
        "provider": provider,
        "price_rows": rows,
        "new_price": failed or PriceForm(auto_id="id_new_price_%s"),
        "price_saved": saved,
        "can_edit": membership.can_edit,
    }


@project_view
@require_POST
def provider_price_set(
    request: HttpRequest, membership: Membership, provider_id: int
) -> HttpResponse:
    """Add or change a model's price (the Prices table's Save, or its add row)."""
    provider = selectors.provider_get(project=membership.project, provider_id=provider_id)
    services.require_editor(membership)
    form = PriceForm(request.POST)
    saved = ""
    if form.is_valid():
        try:
            price = price_services.model_price_set(
                membership=membership, provider=provider, **form.cleaned_data
            )
            saved = f"Price of {price.model} saved."
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    if saved and not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, saved)
        return redirect("provider_detail", provider_id=provider.pk)
    context = _prices_context(provider, membership, failed=None if saved else form, saved=saved)
    return render_page(request, "core/provider_detail.html", context, partial="prices")


@project_view
@require_POST
def provider_price_delete(
    request: HttpRequest, membership: Membership, provider_id: int
) -> HttpResponse:
    provider = selectors.provider_get(project=membership.project, provider_id=provider_id)
    model = (request.POST.get("model") or "").strip()
    removed = price_services.model_price_delete(
        membership=membership, provider=provider, model=model
    )
    saved = f"Price of {model} removed." if removed else f"{model} had no price."
    if not request.htmx:  # type: ignore[attr-defined]
        messages.success(request, saved)
        return redirect("provider_detail", provider_id=provider.pk)
    context = _prices_context(provider, membership, saved=saved)
    return render_page(request, "core/provider_detail.html", context, partial="prices")


@project_view
def provider_model_options(
    request: HttpRequest, membership: Membership, provider_id: int
) -> HttpResponse:
    """The models the provider lists, as <option>s for the Prices table's model field
    (loaded after the page: asking the provider can take seconds). Editors only: it
    calls out with the stored key."""
    provider = selectors.provider_get(project=membership.project, provider_id=provider_id)
    services.require_editor(membership)
    models = services.provider_model_ids(provider=provider) or []
    return render(request, "core/provider_detail.html#model-options", {"models": models[:500]})


def _provider_form_page(
    request: HttpRequest, membership: Membership, provider_id: int | None
) -> HttpResponse:
    services.require_editor(membership)
    provider = (
        selectors.provider_get(project=membership.project, provider_id=provider_id)
        if provider_id
        else None
    )
    form = ProviderForm(request.POST or None, instance=provider)
    if request.method == "POST" and form.is_valid():
        try:
            if provider is None:
                provider = services.provider_create(
                    membership=membership,
                    api_key=form.api_key_value() or "",
                    **form.service_fields(),
                )
                messages.success(request, f"Provider “{provider.name}” added.")
            else:
                services.provider_update(
                    membership=membership,
                    provider=provider,
                    api_key=form.api_key_value(),
                    **form.service_fields(),
                )
                messages.success(request, f"Provider “{provider.name}” saved.")
            return redirect("provider_list")
        except ValidationError as exc:
            form.add_error(None, exc)
    return render(request, "core/provider_form.html", {"form": form, "provider": provider})


@project_view
def provider_create(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _provider_form_page(request, membership, None)


@project_view
def provider_edit(request: HttpRequest, membership: Membership, provider_id: int) -> HttpResponse:
    return _provider_form_page(request, membership, provider_id)


@project_view
@require_POST
def provider_delete(request: HttpRequest, membership: Membership, provider_id: int) -> HttpResponse:
    provider = selectors.provider_get(project=membership.project, provider_id=provider_id)
    services.provider_delete(membership=membership, provider=provider)
    messages.success(request, f"Provider “{provider.name}” deleted.")
    return redirect("provider_list")


@project_view
@require_POST
def provider_test(request: HttpRequest, membership: Membership, provider_id: int) -> HttpResponse:
    provider = selectors.provider_get(project=membership.project, provider_id=provider_id)
    context: dict = {"provider": provider}
    try:
        context["models"] = services.provider_test(membership=membership, provider=provider)
    except LLMError as exc:
        context["error"] = exc.user_message
    return render(request, "core/providers.html#test-result", context)


# --- API keys ------------------------------------------------------------------------


@project_view
def api_key_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = services.api_key_create(
                membership=membership, name=form.cleaned_data["name"]
            )
            form = ApiKeyForm()
        except ValidationError as exc:
            form.add_error(None, exc)
    keys = selectors.api_key_list(project=membership.project, user=request.user)
    context = {"form": form, "keys": keys, "new_key": new_key}
    return render_page(request, "core/api_keys.html", context, partial="keys")


@project_view
@require_POST
def api_key_revoke(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    key = selectors.api_key_get(project=membership.project, user=request.user, key_id=key_id)
    services.api_key_revoke(key=key)
    messages.success(request, f"Key “{key.name}” revoked. Requests using it now get 401.")
    keys = selectors.api_key_list(project=membership.project, user=request.user)
    context = {"form": ApiKeyForm(), "keys": keys}
    return render_page(request, "core/api_keys.html", context, partial="keys")
