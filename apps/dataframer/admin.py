from django.contrib import admin

from apps.core.admin import RecordAdmin

from .models import DataframerRun, GeneratedSpec, RunArchive, SeedDataset, SeedFile, SpecYaml


class SeedFileInline(admin.TabularInline):
    model = SeedFile
    fields = ("position", "path", "file_type", "size_bytes")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(SeedDataset)
class SeedDatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "dataset_type", "created_by", "created_at"]
    list_select_related = ["project", "created_by"]
    list_filter = ["dataset_type"]
    search_fields = ["name"]
    readonly_fields = ["created_by", "created_at"]
    inlines = [SeedFileInline]


@admin.register(SeedFile)
class SeedFileAdmin(admin.ModelAdmin):
    list_display = ["path", "dataset", "file_type", "size_bytes"]
    list_select_related = ["dataset"]
    search_fields = ["path", "dataset__name"]
    exclude = ["content"]
    readonly_fields = ["sha256"]


@admin.register(GeneratedSpec)
class GeneratedSpecAdmin(RecordAdmin):
    list_display = ["name", "project", "status", "seed_dataset", "spec", "created_at"]
    list_select_related = ["project", "seed_dataset", "spec"]
    list_filter = ["status"]
    raw_id_fields = ["seed_dataset", "spec", "provider"]
    search_fields = ["name"]


@admin.register(SpecYaml)
class SpecYamlAdmin(admin.ModelAdmin):
    list_display = ["spec", "number", "created_at"]
    list_select_related = ["spec"]
    search_fields = ["spec__name"]


@admin.register(DataframerRun)
class DataframerRunAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "spec", "created_at"]
    list_select_related = ["run", "spec"]
    raw_id_fields = ["run", "spec"]


@admin.register(RunArchive)
class RunArchiveAdmin(RecordAdmin):
    list_display = ["id", "run", "status", "size_bytes", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["run"]
