from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .models import AllowedPrivateHost, ApiKey, Membership, ModelPrice, Project, Provider
from .services import (
    allowed_private_host_clean,
    allowed_private_host_delete,
    allowed_private_host_save,
    api_key_revoke,
    provider_ensure_embedded,
)


class RecordAdmin(admin.ModelAdmin):
    """For rows only the app's services write (samples, versions, runs, calls, jobs):
    shown, never added, edited or deleted by hand, which would leave counters, hashes,
    checks and lineage wrong. Whole datasets and projects can still be deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:  # as project_create does: every project has the embedded model
            provider_ensure_embedded(project=obj)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "project", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project"]
    list_select_related = ["user", "project"]
    search_fields = ["name", "prefix", "user__username"]
    # Keys are created where the secret can be shown once (the settings page or the CLI)
    # and only ever revoked: a key moved to another user or project, or un-revoked,
    # would be a credential nobody issued.
    fields = ["name", "prefix", "user", "project", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "user", "project", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"{len(queryset)} key(s) revoked.")


class ModelPriceInline(admin.TabularInline):
    """Dollars per million tokens; a model without a row has an unknown cost."""

    model = ModelPrice
    extra = 0
    fields = ["model", "input_per_million", "output_per_million", "updated_at"]
    readonly_fields = ["updated_at"]


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "project",
        "base_url",
        "default_model",
        "max_concurrency",
        "thinking",
        "supports_tools",
    ]
    list_filter = ["kind", "project", "thinking", "supports_tools"]
    search_fields = ["name", "base_url"]
    exclude = ["api_key"]  # never shown; set it on the Providers page or through the API
    inlines = [ModelPriceInline]


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ["model", "provider", "input_per_million", "output_per_million", "updated_at"]
    list_filter = ["provider__project"]
    list_select_related = ["provider"]
    search_fields = ["model", "provider__name"]
    autocomplete_fields = ["provider"]


class AllowedPrivateHostForm(forms.ModelForm):
    class Meta:
        model = AllowedPrivateHost
        fields = ["host", "note"]

    def clean_host(self) -> str:
        try:
            return allowed_private_host_clean(entry=self.cleaned_data["host"])
        except ValidationError as exc:  # the service names the field; the form knows it
            raise ValidationError(exc.message_dict["host"]) from exc


@admin.register(AllowedPrivateHost)
class AllowedPrivateHostAdmin(admin.ModelAdmin):
    """Superusers only, whatever permissions staff are given: an entry lets every
    project's providers reach that host's private addresses with Seedbed's servers."""

    form = AllowedPrivateHostForm
    list_display = ["host", "note", "created_by", "created_at"]
    search_fields = ["host", "note"]

    def _superuser(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request)

    def save_model(
        self, request: HttpRequest, obj: AllowedPrivateHost, form: Any, change: bool
    ) -> None:
        allowed_private_host_save(row=obj, user=request.user)  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: AllowedPrivateHost) -> None:
        allowed_private_host_delete(rows=[obj], user=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        allowed_private_host_delete(rows=list(queryset), user=request.user)  # type: ignore[arg-type]
