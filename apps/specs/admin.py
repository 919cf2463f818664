from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin import RecordAdmin

from .models import Spec, SpecCheck, SpecVersion


class SpecVersionInline(admin.TabularInline):
    model = SpecVersion
    fields = ("number", "status", "created_by", "created_at", "checked_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Spec | None = None) -> bool:
        return False  # versions are made by editing the spec (services), never by hand


@admin.register(Spec)
class SpecAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "task_type", "created_by", "updated_at"]
    list_select_related = ["project", "created_by"]
    list_filter = ["task_type", "project"]
    search_fields = ["name", "project__name"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    inlines = [SpecVersionInline]


@admin.register(SpecVersion)
class SpecVersionAdmin(admin.ModelAdmin):
    list_display = ["spec", "number", "status", "created_by", "created_at", "checked_at"]
    list_filter = ["status", "spec__task_type"]
    search_fields = ["spec__name"]
    list_select_related = ["spec", "created_by"]

    # Versions are immutable: runs and datasets point at them for lineage.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SpecVersion | None = None) -> bool:
        return False


@admin.register(SpecCheck)
class SpecCheckAdmin(RecordAdmin):
    list_display = ["id", "version", "status", "created_at", "finished_at"]
    list_select_related = ["version__spec"]
    list_filter = ["status"]
    raw_id_fields = ["version"]
    search_fields = ["version__spec__name"]
