from django.contrib import admin

from apps.core.admin import RecordAdmin

from .models import Dataset, DatasetVersion, ExportJob, Sample


class DatasetVersionInline(admin.TabularInline):
    model = DatasetVersion
    extra = 0
    fields = readonly_fields = ("number", "source", "run", "added_count", "note", "created_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # versions are opened by runs and imports, never by hand


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "task_type", "latest_version", "created_at"]
    list_select_related = ["project"]
    list_filter = ["task_type", "project"]
    search_fields = ["name"]
    raw_id_fields = ["project"]
    readonly_fields = ["latest_version", "created_at"]
    inlines = [DatasetVersionInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(RecordAdmin):
    list_display = ["dataset", "number", "source", "run", "added_count", "created_at"]
    list_select_related = ["dataset", "run"]
    list_filter = ["source"]
    search_fields = ["dataset__name", "note"]
    raw_id_fields = ["dataset", "run", "created_by"]
    readonly_fields = ["added_count", "added_labels", "created_at"]


@admin.register(Sample)
class SampleAdmin(RecordAdmin):
    list_display = ["id", "dataset", "version", "review_state", "short_text", "created_at"]
    list_filter = ["review_state", "dataset__task_type"]
    raw_id_fields = ["dataset", "run"]
    readonly_fields = ["text_hash", "created_at"]
    exclude = ["search"]
    # A million samples: no COUNT(*) for the "n of N" line, no full-table sort.
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    sortable_by = ["id"]
    list_select_related = ["dataset"]

    @admin.display(description="text")
    def short_text(self, sample: Sample) -> str:
        return sample.text[:80]


@admin.register(ExportJob)
class ExportJobAdmin(RecordAdmin):
    list_display = ["id", "dataset", "version", "format", "status", "rows", "created_at"]
    list_select_related = ["dataset"]
    list_filter = ["status", "format"]
    raw_id_fields = ["project", "dataset", "created_by"]
    readonly_fields = ["started_at", "finished_at", "created_at"]
