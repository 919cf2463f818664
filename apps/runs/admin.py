from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from apps.core.admin import RecordAdmin
from apps.core.models import Membership
from apps.core.options import settings_rows

from . import services
from .models import RejectedSample, Run, RunEvent, ThroughputPoint


class RunEventInline(admin.TabularInline):
    model = RunEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "level", "message"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(RecordAdmin):
    list_display = ["id", "project", "status", "model", "accepted", "num_samples", "created_at"]
    list_select_related = ["project"]
    list_filter = ["status", "project"]
    search_fields = ["id", "model", "dataset__name"]
    raw_id_fields = ["spec_version", "provider", "dataset", "created_by"]
    readonly_fields = [
        "status",
        "accepted",
        "rejected",
        "duplicates",
        "calls",
        "failed_calls",
        "retries",
        "input_tokens",
        "output_tokens",
        "rejected_by_reason",
        "label_counts",
        "steps_done",
        "settings_table",
        "state",
        "usage_by_stage",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "error",
    ]
    exclude = ["settings"]
    inlines = [RunEventInline]

    @admin.display(description="Settings")
    def settings_table(self, run: Run) -> str:
        """The engine's settings as declared (labels and values), like the run page."""
        return format_html_join(
            "",
            "<div><strong>{}</strong>: {}</div>",
            ((label, value) for _, label, value in settings_rows(run.options)),
        )

    actions = ["cancel_runs"]

    @admin.action(description="Cancel the selected runs (samples are kept)")
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        for run in queryset:
            # Staff act with owner rights in the run's project through the same service.
            membership = Membership(project=run.project, user=request.user, role="owner")  # type: ignore[misc]
            services.run_cancel(membership=membership, run=run)
        messages.success(request, f"Cancel requested for {queryset.count()} run(s).")


@admin.register(RunEvent)
class RunEventAdmin(RecordAdmin):
    list_display = ["run", "created_at", "level", "message"]
    list_filter = ["level"]
    raw_id_fields = ["run"]


@admin.register(RejectedSample)
class RejectedSampleAdmin(RecordAdmin):
    list_display = ["run", "reason", "detail", "created_at"]
    list_filter = ["reason"]
    raw_id_fields = ["run"]
    show_full_result_count = False


@admin.register(ThroughputPoint)
class ThroughputPointAdmin(RecordAdmin):
    list_display = ["run", "at", "accepted_total"]
    raw_id_fields = ["run"]
