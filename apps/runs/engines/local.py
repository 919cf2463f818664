"""The local engine: Seedbed's own workers call the providers through the stage pipeline.

One step = a bounded stretch of calls (`RUN_CHUNK_SECONDS`) whose results are committed
as they come (early commits each move the checkpoint on by one) and finally with the
decision: continue, wait for the provider's Retry-After, done or failed.
"""

import time
from dataclasses import replace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from apps.core.jobs import Outcome
from apps.core.llm import ProviderConfig, run_sync
from apps.core.models import Provider
from apps.core.options import settings_load
from apps.core.services import provider_config
from apps.runs.models import Run
from apps.runs.services import run_event

from .commit import chunk_commit, chunk_flush
from .local_settings import LocalSettings
from .pipeline import ChunkInput, ChunkOutput, plan_topics, run_chunk
from .prompts import prompt_settings
from .roles import ROLES, RoleModel, roles_load
from .usage import usage_merge

# Early commits come several times a second; the throughput chart needs a point at most
# this often (and one at the end of every step).
THROUGHPUT_POINT_SECONDS = 1.0


def _role_configs(run: Run) -> dict[str, tuple[RoleModel, ProviderConfig]]:
    """Each role's model and provider config; a role whose provider is gone falls back to
    the run's own (as runs made before roles existed do for every role)."""
    assert run.provider is not None  # checked by the step
    base = RoleModel(run.provider.pk, run.provider.name, run.model)
    roles = roles_load(run.state.get("roles", {}))
    providers = {
        p.pk: p for p in Provider.objects.filter(pk__in=[r.provider_id for r in roles.values()])
    }
    providers[run.provider.pk] = run.provider
    configs = {}
    for role in ROLES:
        chosen = roles.get(role, base)
        provider = providers.get(chosen.provider_id, run.provider)
        config = replace(
            provider_config(provider=provider),
            max_retry_after=settings.RUN_RETRY_AFTER_IN_CALL_MAX,
        )
        configs[role] = (chosen, config)
    return configs


def chunk_input(run: Run) -> ChunkInput:
    options = settings_load(LocalSettings, run.settings)
    prompt = prompt_settings(run.spec_version, options, tuple(run.state.get("topics", ())))
    content = prompt.content
    roles = _role_configs(run)
    return ChunkInput(
        provider=roles["generation"][1],
        model=run.model,
        roles=roles,
        options=options,
        prompt=prompt,
        num_samples=run.num_samples,
        accepted=run.accepted,
        calls_done=run.calls + run.failed_calls,
        call_budget=run.call_budget,
        concurrency=options.concurrency,
        label_counts=dict(run.label_counts),
        balance_labels=options.balance_labels,
        originals=content.seeds if run.multiplier else (),
        time_budget=settings.RUN_CHUNK_SECONDS,
        step_max=settings.RUN_STEP_MAX_SECONDS,
        heartbeat_every=min(5.0, settings.RUN_STALE_SECONDS / 3),
    )


class LocalEngine:
    name = "local"
    settings = LocalSettings

    def step(self, run: Run, *, step: int) -> Outcome:
        if step == 0:
            run_event(run=run, message=f"Started on {run.model}: {run.num_samples} samples wanted.")
        if run.provider is None:
            return Outcome.failed("The provider was deleted.")
        run_id = run.pk
        position = [step]  # each early commit moves the checkpoint on by one
        last_point = [time.monotonic()]

        @sync_to_async
        def should_stop() -> bool:
            return Run.objects.filter(pk=run_id, cancel_requested=True).exists()

        @sync_to_async
        def heartbeat() -> None:
            from django.db.models.functions import Now

            Run.objects.filter(pk=run_id).update(heartbeat_at=Now())

        @sync_to_async
        def flush(partial: ChunkOutput) -> int | None:
            now = time.monotonic()
            point = now - last_point[0] >= THROUGHPUT_POINT_SECONDS
            kept = chunk_flush(run_id=run_id, chunk=position[0], output=partial, point=point)
            if kept is not None:
                position[0] += 1
                if point:
                    last_point[0] = now
            return kept

        job = chunk_input(run)
        if not job.options.skip_outline and "topics" not in run.state:
            job = _with_topic_plan(run, job)
        output = run_sync(run_chunk, job, should_stop=should_stop, heartbeat=heartbeat, flush=flush)
        outcome = chunk_commit(run_id=run_id, chunk=position[0], output=output)
        return outcome if outcome is not None else Outcome.stale()


def _with_topic_plan(run: Run, job: ChunkInput) -> ChunkInput:
    """Ask the outline model once for the run's sub-topics and keep them in its state (an
    answer without topics leaves the run on its other attributes)."""
    topics, meter = run_sync(plan_topics, job)
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        locked.state = {**locked.state, "topics": list(topics)}
        locked.usage_by_stage = usage_merge(locked.usage_by_stage, meter.take())
        locked.save(update_fields=["state", "usage_by_stage"])
    run.state = locked.state
    return replace(job, prompt=replace(job.prompt, topics=topics))
