from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import ApiKey, Membership, Project, Provider
from .services import provider_ensure_embedded


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
    search_fields = ["name", "prefix", "user__username"]
    # Keys are created where the secret can be shown once: the settings page or the CLI.
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "project", "base_url", "default_model", "max_concurrency"]
    list_filter = ["kind", "project"]
    search_fields = ["name", "base_url"]
    exclude = ["api_key"]  # never shown; set it on the Providers page or through the API
