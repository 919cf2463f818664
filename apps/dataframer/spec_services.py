"""Writes for Dataframer specs: ask for one (a job writes it), build it (the job's step),
edit it (a new version), delete it."""

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.jobs import FINISHED, job_enqueue
from apps.core.models import Membership
from apps.core.services import require_editor
from apps.runs.models import Run
from apps.specs.models import Spec, SpecVersion, TaskType
from apps.specs.services import spec_create, spec_version_check, spec_version_create

from . import generation, spec_yaml
from .errors import ApiError, bad_request, conflict
from .models import GeneratedSpec, SeedDataset, SpecYaml
from .models_resolve import model_choose
from .seeds import layout_of, seeds_of

logger = logging.getLogger(__name__)

KIND = "dataframer_spec"
MAX_NAME_CHARS = 120
MAX_TEXT_CHARS = 20_000


def _name_free(membership: Membership, name: str) -> None:
    project = membership.project
    taken = GeneratedSpec.objects.filter(project=project, name=name).exists()
    if taken or Spec.objects.filter(project=project, name=name).exists():
        raise conflict(f"A spec named {name!r} already exists in this project.")


def _text(value: Any, field: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise bad_request(field, "Must be text.")
    value = value.strip()
    if required and not value:
        raise bad_request(field, "This field is required.")
    limit = MAX_NAME_CHARS if field == "name" else MAX_TEXT_CHARS
    if len(value) > limit:
        raise bad_request(field, f"At most {limit:,} characters (got {len(value):,}).")
    return value


def generated_spec_request(
    *,
    membership: Membership,
    name: Any,
    seed_dataset: SeedDataset | None,
    description: Any = "",
    generation_objectives: Any = "",
    model_name: Any = None,
    flags: dict[str, bool],
) -> GeneratedSpec:
    """A PROCESSING spec; its job writes the content from the seeds on the workers."""
    require_editor(membership)
    name = _text(name, "name", required=True)
    description = _text(description, "description")
    objectives = _text(generation_objectives, "generation_objectives")
    if seed_dataset is None and not objectives:
        raise bad_request(
            "generation_objectives", "A spec without dataset_id needs generation_objectives."
        )
    if flags.get("generate_conditional_distributions") and not flags.get("generate_distributions"):
        raise bad_request(
            "generate_conditional_distributions", "Requires generate_distributions to be true."
        )
    chosen = model_choose(
        project=membership.project, name=model_name, field="spec_generation_model_name"
    )
    _name_free(membership, name)
    params = {"spec_generation_model_name": model_name or chosen.label, **flags}
    try:
        with transaction.atomic():
            spec = GeneratedSpec.objects.create(
                project=membership.project,
                name=name,
                description=description,
                seed_dataset=seed_dataset,
                generation_objectives=objectives,
                runtime_params=params,
                provider=chosen.provider,
                model=chosen.model,
                created_by=membership.user,
            )
            job_enqueue(kind_name=KIND, pk=spec.pk, step=0)
    except IntegrityError as exc:
        raise conflict(f"A spec named {name!r} already exists in this project.") from exc
    return spec


def _metadata(spec: GeneratedSpec, number: int, schema: dict[str, Any]) -> dict[str, Any]:
    """The read-only part of the YAML: where the spec comes from and the samples' fields
    (their structure, from the seeds)."""
    fields = {
        name: {"type": field.get("type", "string"), "required": name in schema.get("required", [])}
        for name, field in schema.get("properties", {}).items()
    }
    return {
        "name": spec.name,
        "version": number,
        "dataset_name": spec.seed_dataset.name if spec.seed_dataset else None,
        "dataset_type": spec.seed_dataset.dataset_type if spec.seed_dataset else None,
        "fields": fields,
        "seedbed_spec_id": spec.spec_id,
    }


def generated_spec_build(*, spec: GeneratedSpec) -> Spec:
    """The job's work: the model writes the spec from the seeds, which becomes a Seedbed
    spec (custom fields) with version 1. ValueError, ValidationError or LLMError say why
    it could not."""
    if spec.provider is None or spec.created_by_id is None:
        raise ValueError("The model's provider or the spec's author was deleted.")
    membership = Membership.objects.select_related("project", "user").get(
        project_id=spec.project_id, user_id=spec.created_by_id
    )
    layout = layout_of(spec.seed_dataset)
    seeds = seeds_of(spec.seed_dataset, layout)
    schema = layout.schema(seeds)
    body = generation.spec_write(
        provider=spec.provider,
        model=spec.model,
        seeds=seeds,
        fields=list(schema.get("properties", {})),
        objectives=spec.generation_objectives,
        params=spec.runtime_params,
    )
    with transaction.atomic():
        made = spec_create(
            membership=membership,
            name=spec.name,
            task_type=TaskType.CUSTOM,
            description=body.description,
            instruction=body.instruction(),
            requirements=list(body.requirements),
            seeds=seeds,
            custom_schema=schema,
            user=spec.created_by,
        )
        GeneratedSpec.objects.filter(pk=spec.pk).update(spec=made, updated_at=timezone.now())
        spec.spec = made
        SpecYaml.objects.create(
            spec=spec, number=1, content_yaml=body.dump(_metadata(spec, 1, schema))
        )
    # Judged here rather than by its own check job, so the spec is final when this ends.
    version = made.versions.get(number=1)
    spec_version_check(version=version)
    return made


def generated_spec_update(
    *, membership: Membership, spec: GeneratedSpec, content_yaml: Any
) -> SpecVersion:
    """Version n+1 from edited YAML; 400 when it does not make a usable spec."""
    require_editor(membership)
    if spec.spec is None:
        raise conflict("The spec has no content yet: wait until it has SUCCEEDED.")
    body = spec_yaml.parse(content_yaml)
    with transaction.atomic():
        try:
            version = spec_version_create(
                membership=membership,
                spec=spec.spec,
                description=body.description,
                instruction=body.instruction(),
                requirements=list(body.requirements),
                refuse_unusable=True,
            )
        except ValidationError as exc:
            # Well-formed YAML that makes no usable spec: 422, as opposed to a broken limit.
            problems = [m for messages in exc.message_dict.values() for m in messages]
            raise ApiError(422, {"content_yaml": problems}) from exc
        SpecYaml.objects.create(
            spec=spec,
            number=version.number,
            content_yaml=body.dump(_metadata(spec, version.number, version.custom_schema or {})),
        )
        GeneratedSpec.objects.filter(pk=spec.pk).update(updated_at=timezone.now())
    # Judged now (its check job then finds it decided): the spec stays SUCCEEDED across an
    # edit, as Dataframer's does, instead of PROCESSING until a worker gets to it.
    return spec_version_check(version=version)


def generated_spec_delete(*, membership: Membership, spec: GeneratedSpec, force: bool) -> None:
    """Delete the spec (and its Seedbed spec); with `force` its finished runs too. A spec
    with runs still going is refused (cancel them first)."""
    require_editor(membership)
    runs = Run.objects.filter(spec_version__spec=spec.spec) if spec.spec else Run.objects.none()
    if runs.exclude(status__in=FINISHED).exists():
        raise conflict("The spec has runs still going: cancel them first.")
    if runs.exists() and not force:
        raise conflict("The spec has runs: delete them first, or pass force=true.")
    if not spec.is_finished:
        raise conflict("The spec is still being generated: delete it once it has finished.")
    with transaction.atomic():
        runs.delete()
        if spec.spec is not None:
            spec.spec.delete()
        spec.delete()
