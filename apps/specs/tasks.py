"""Celery tasks of specs: thin wrappers around services."""

from apps.core.tasks import seedbed_task

from .models import SpecVersion, SpecVersionStatus


@seedbed_task(soft_time_limit=60, time_limit=90)
def spec_version_check_task(version_id: int) -> None:
    """Check one spec version. Safe to redeliver: a decided version is left alone."""
    from .services import spec_version_check  # services enqueue this task: import late

    version = (
        SpecVersion.objects.select_related("spec")
        .filter(pk=version_id, status=SpecVersionStatus.PENDING)
        .first()
    )
    if version is None:
        return
    spec_version_check(version=version)
