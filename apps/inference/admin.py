from django.contrib import admin

from apps.core.admin import RecordAdmin

from .models import Feedback, Inference, LabellingJob, ModelAlias


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "project", "provider", "model", "created_at"]
    list_filter = ["project"]
    search_fields = ["alias", "model"]


class FeedbackInline(admin.TabularInline):
    model = Feedback
    extra = 0
    readonly_fields = ["verdict", "corrected_output", "user", "api_key", "created_at"]
    can_delete = False


@admin.register(Inference)
class InferenceAdmin(RecordAdmin):
    list_display = [
        "id",
        "project",
        "model_id",
        "task",
        "protocol",
        "status",
        "verdict",
        "latency_ms",
        "created_at",
    ]
    list_filter = ["protocol", "task", "status", "verdict", "project"]
    search_fields = ["model_id", "training_job_id"]
    raw_id_fields = ["api_key", "user", "provider"]
    show_full_result_count = False
    list_select_related = ["project"]
    inlines = [FeedbackInline]


@admin.register(Feedback)
class FeedbackAdmin(RecordAdmin):
    list_display = ["inference", "verdict", "user", "created_at"]
    list_select_related = ["inference", "user"]
    list_filter = ["verdict"]
    raw_id_fields = ["inference", "user", "api_key"]


@admin.register(LabellingJob)
class LabellingJobAdmin(RecordAdmin):
    list_display = ["id", "project", "task", "status", "done", "total", "created_at"]
    list_select_related = ["project"]
    list_filter = ["status", "task", "project"]
