"""Writes for withpi jobs: a request becomes a checked spec version (the spec
`withpi-<kind>-<application>`, a new version when the seeds change) and a run of origin
withpi into the dataset of the same name (each job a new version of it)."""

import hashlib
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from apps.core import selectors as core_selectors
from apps.core.models import Membership, Provider
from apps.runs import services as run_services
from apps.runs.compat import compat_spec_version
from apps.runs.models import Run, RunOrigin
from apps.runs.selectors import usual_provider_id

from .kinds import INPUTS, PAIRS, STATES, JobKind

# run_parallel_batches=false: one call at a time.
PARALLEL_CALLS, SERIAL_CALLS = 8, 1


def spec_name(kind: JobKind, application: str) -> str:
    """`withpi-<kind>-<slug>-<hash>`: one spec and dataset per application, whatever its
    description's length or script."""
    digest = hashlib.sha256(application.encode()).hexdigest()[:8]
    slug = slugify(application)[:60].strip("-")
    return "-".join(part for part in ("withpi", kind.noun, slug, digest) if part)


def _provider(membership: Membership, model: str) -> Provider:
    project = membership.project
    provider = core_selectors.provider_for_model(project=project, model_id=model)
    if provider is None and not model:
        usual = usual_provider_id(project)
        providers = core_selectors.provider_list(project=project)
        provider = providers.filter(pk=usual).first() if usual is not None else None
    if provider is None:
        raise ValidationError({"model": f"No provider for {model or 'the embedded model'!r}."})
    return provider


def _errors_by_field(problems: list[str]) -> dict[str, list[str]]:
    """The spec check's problems: the description's, else the seeds'."""
    by_field: dict[str, list[str]] = {}
    for problem in problems:
        field = "application_description" if problem.startswith("Description") else "seeds"
        by_field.setdefault(field, []).append(problem)
    return by_field


def _job_start(
    *,
    membership: Membership,
    user: User | None,
    kind: JobKind,
    name: str,
    content: dict[str, Any],
    count: int,
    params: dict[str, Any],
) -> Run:
    provider = _provider(membership, params.get("model", ""))
    with transaction.atomic():
        version = compat_spec_version(
            membership=membership,
            user=user,
            name=name,
            task_type=kind.task_type,
            content=content,
            errors_by_field=_errors_by_field,
        )
        return run_services.run_create(
            membership=membership,
            spec_version=version,
            provider=provider,
            model=params.get("model", ""),
            num_samples=count,
            user=user,
            origin=RunOrigin.WITHPI,
            batch_size=params["batch_size"],
            num_shots=params["num_shots"],
            exploration_mode=params["exploration_mode"],
            concurrency=PARALLEL_CALLS if params["run_parallel_batches"] else SERIAL_CALLS,
        )


def inputs_job_start(*, membership: Membership, user: User | None, params: dict[str, Any]) -> Run:
    """`POST /data/generate`: LLM inputs for the application, seeded by example inputs."""
    description = params["application_description"]
    return _job_start(
        membership=membership,
        user=user,
        kind=INPUTS,
        name=spec_name(INPUTS, description),
        content={"description": description, "seeds": [{"input": s} for s in params["seeds"]]},
        count=params["num_inputs_to_generate"],
        params=params,
    )


SYSTEM_PROMPT_INSTRUCTION = (
    "The application's system prompt (every response follows it, every input is sent under it):\n{}"
)
NO_DESCRIPTION = "An LLM application: inputs users send to it and the responses it gives."


def pairs_job_start(*, membership: Membership, user: User | None, params: dict[str, Any]) -> Run:
    """`POST /data/generate_input_response_pairs`: instruction → response samples, the
    seeds' `llm_input` as the instruction and `llm_output` as the response."""
    description = params.get("application_description", "").strip() or NO_DESCRIPTION
    system_prompt = params.get("system_prompt", "").strip()
    seeds = [{"instruction": s["llm_input"], "response": s["llm_output"]} for s in params["seeds"]]
    content = {
        "description": description,
        "instruction": SYSTEM_PROMPT_INSTRUCTION.format(system_prompt) if system_prompt else "",
        "seeds": seeds,
    }
    return _job_start(
        membership=membership,
        user=user,
        kind=PAIRS,
        name=spec_name(PAIRS, f"{description}\n{system_prompt}"),
        content=content,
        count=params["num_pairs_to_generate"],
        params=params,
    )


def job_cancel(*, membership: Membership, run: Run) -> str:
    """Stop the job (no new calls; the items so far are kept); what happened, in words."""
    if run.is_finished:
        return f"Job {run.pk} had already ended ({STATES[run.status]}); nothing to cancel."
    run_services.run_cancel(membership=membership, run=run)
    return f"Job {run.pk} cancelled: no new calls are made; the items generated so far are kept."
