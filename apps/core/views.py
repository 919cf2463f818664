"""Pages for the project switcher, providers and API keys."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import ApiKeyForm, ProjectForm, ProviderForm
from .inputs import query_int
from .llm.errors import LLMError
from .models import Membership
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
    providers = selectors.provider_list(project=membership.project)
    return render(request, "core/providers.html", {"providers": providers})


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
