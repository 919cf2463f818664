"""Celery application. Tasks are declared with apps.core.tasks.seedbed_task."""

import gc
import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("seedbed")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def freeze_startup_objects(**kwargs: Any) -> None:
    """Move what exists once a worker process is up (Django, the tasks' modules) out of
    the garbage collector's sight: those objects live as long as the process, and without
    this every full collection walks them again (with Django loaded, freezing cut the LLM
    client's CPU per call from ~333 to ~295 µs at 64 concurrent calls)."""
    gc.freeze()
