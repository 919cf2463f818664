"""Promotion: confirmed-correct and corrected inferences become a new dataset version.

An inference promotes when its verdict is `correct` (its output is used) or when it was
corrected (its `corrected_output` is used, whatever the verdict). `incorrect` without a
correction never promotes: nobody said what the right answer is.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.models import Membership
from apps.core.services import require_editor
from apps.datasets.models import Dataset, DatasetVersion, VersionSource
from apps.datasets.services import (
    MAX_DATASET_NAME,
    NewSample,
    dataset_version_close,
    dataset_version_create,
    samples_insert,
)
from apps.specs.models import TaskType
from apps.specs.task_types import SpecContent, check_sample
from apps.specs.texts import text_hash

from .models import Inference, Verdict
from .outputs import effective_output, generated_text
from .selectors import inference_list

MAX_PROMOTE = 20_000
PAGE = 1000
LABEL_TASKS = {"label_ner": TaskType.NER, "label_classification": TaskType.CLASSIFICATION}
DECODER_TASKS = frozenset(
    {"generate", "chat", "completion", "completions", "responses", "messages"}
)


@dataclass
class Candidate:
    inference: Inference
    task_type: str
    payload: dict[str, Any]


def _answer(inference: Inference) -> Any:
    return effective_output(inference)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def task_type_of(inference: Inference, answer: Any = None) -> str | None:
    """Which dataset task type an inference's answer is a sample of (None: not promotable)."""
    answer = _answer(inference) if answer is None else answer
    if inference.task in LABEL_TASKS:
        return LABEL_TASKS[inference.task]
    if inference.task in DECODER_TASKS:
        return TaskType.DECODER
    # A native extract call answers with every key (`"entities": []` too): what its
    # schema asked for says what the answer is.
    asked = _as_dict(_as_dict(inference.request).get("schema"))
    if asked.get("entities"):
        return TaskType.NER
    if asked.get("classifications"):
        return TaskType.CLASSIFICATION
    data = _as_dict(answer)
    if isinstance(data.get("entities"), list):
        return TaskType.NER
    if data.get("classifications") or "label" in data or "labels" in data:
        return TaskType.CLASSIFICATION
    return None


def _classification(data: dict[str, Any]) -> dict[str, Any]:
    """`{"label": …}` or `{"labels": […]}` from a native result or a label-existing one."""
    source = data
    classifications = data.get("classifications")
    if isinstance(classifications, list) and classifications:
        source = _as_dict(classifications[0])
    if isinstance(source.get("labels"), list):
        return {"labels": source["labels"]}
    return {"label": source.get("label")}


def sample_payload(inference: Inference, task_type: str) -> dict[str, Any]:
    """The sample an inference's (corrected) answer stands for, before checking."""
    answer = _answer(inference)
    data = _as_dict(answer)
    if task_type == TaskType.NER:
        return {"text": inference.input_text, "entities": data.get("entities") or []}
    if task_type == TaskType.CLASSIFICATION:
        return {"text": inference.input_text, **_classification(data)}
    return {
        "instruction": inference.input_text,
        "response": generated_text(answer, default=inference.output_text),
    }


def keep_offsets(checked: dict[str, Any], entities: Any, text: str) -> dict[str, Any]:
    """The checker re-finds each entity by its text; keep offsets a person set explicitly
    (the second "Paris" rather than the first) when they point at that very text."""
    exact = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict):
            return checked
        start, end = entity.get("start"), entity.get("end")
        if not (isinstance(start, int) and isinstance(end, int)):
            return checked
        if not 0 <= start < end <= len(text) or text[start:end] != entity.get("text"):
            return checked
        exact.append({"text": entity["text"], "label": entity["label"], "start": start, "end": end})
    exact.sort(key=lambda e: (e["start"], e["end"]))
    return {**checked, "entities": exact}


def candidates(
    *,
    project: Any,
    model_id: str | None = None,
    task: str | None = None,
    training_job_id: str | None = None,
    verdict: str | None = None,
) -> list[Candidate]:
    """The promotable inferences of a history filter, oldest first."""
    # verdict "" is the "unreviewed" filter: nothing in it can be promoted.
    verdicts = [verdict] if verdict is not None else [Verdict.CORRECT, Verdict.INCORRECT]
    found: list[Inference] = []
    for wanted in verdicts:
        if wanted not in Verdict.values:
            continue
        offset = 0
        while len(found) < MAX_PROMOTE:
            page = inference_list(
                project=project,
                model_id=model_id or None,
                task=task or None,
                training_job_id=training_job_id or None,
                verdict=wanted,
                status="ok",
                limit=PAGE,
                offset=offset,
            )
            found.extend(i for i in page if i.verdict == Verdict.CORRECT or i.corrected_output)
            if len(page) < PAGE:
                break
            offset += PAGE
    found.sort(key=lambda i: i.pk)
    result = []
    for inference in found[:MAX_PROMOTE]:
        task_type = task_type_of(inference)
        if task_type is not None:
            result.append(Candidate(inference, task_type, sample_payload(inference, task_type)))
    return result


def _dataset_task_type(project: Any, name: str, found: list[Candidate]) -> str:
    types = sorted({c.task_type for c in found})
    if len(types) > 1:
        raise ValidationError(
            {"task": f"The filter mixes {' and '.join(types)} inferences; filter by task first."}
        )
    existing = Dataset.objects.filter(project=project, name=name).first()
    if existing is not None and existing.task_type != types[0]:
        raise ValidationError(
            {
                "dataset_name": f"Dataset {name!r} holds {existing.task_type} samples, "
                f"these inferences are {types[0]}."
            }
        )
    return types[0]


def inferences_promote(
    *,
    membership: Membership,
    dataset_name: str,
    user: Any = None,
    model_id: str | None = None,
    task: str | None = None,
    training_job_id: str | None = None,
    verdict: str | None = None,
) -> DatasetVersion:
    """Write the filter's confirmed and corrected inferences as version n+1 of a dataset.

    Every sample is checked like a generated one; its lineage names the inference it came
    from. Raises ValidationError naming the field when there is nothing valid to promote.
    """
    require_editor(membership)
    project = membership.project
    name = (dataset_name or "").strip()
    if not name or len(name) > MAX_DATASET_NAME:
        raise ValidationError({"dataset_name": "dataset_name must be 1 to 120 characters."})
    found = candidates(
        project=project,
        model_id=model_id,
        task=task,
        training_job_id=training_job_id,
        verdict=verdict,
    )
    if not found:
        raise ValidationError(
            {
                "verdict": "Nothing to promote: no call in this filter is marked correct "
                "or corrected."
            }
        )
    task_type = _dataset_task_type(project, name, found)
    samples: list[NewSample] = []
    problems: list[str] = []
    for candidate in found:
        inference = candidate.inference
        multi = "labels" in candidate.payload
        checked = check_sample(
            candidate.payload, SpecContent(task_type=task_type, multi_label=multi)
        )
        if not checked.ok:
            problems.append(f"#{inference.pk}: {checked.detail or checked.reason}")
            continue
        payload = checked.payload
        if task_type == TaskType.NER:
            payload = keep_offsets(payload, candidate.payload["entities"], checked.text)
        lineage = {
            "inference_id": inference.pk,
            "model_id": inference.model_id,
            "verdict": inference.verdict,
            "task": inference.task,
            "corrected": inference.corrected_output is not None,
        }
        samples.append(
            NewSample(
                payload=payload,
                text=checked.text,
                text_hash=text_hash(checked.text),
                labels=checked.labels,
                lineage=lineage,
                index=len(samples),
            )
        )
    if not samples:
        raise ValidationError({"verdict": ["No promotable call passed the checks.", *problems[:5]]})
    with transaction.atomic():
        version = dataset_version_create(
            project=project,
            name=name,
            task_type=task_type,
            source=VersionSource.PROMOTION,
            user=user,
        )
        samples_insert(
            dataset_id=version.dataset_id, version=version.number, run_id=None, samples=samples
        )
        version = dataset_version_close(dataset_id=version.dataset_id, number=version.number)
        added = version.added_count or 0  # set by the close
        known = len(samples) - added
        if not added:
            # Rolls the version back: promoting the same calls again adds nothing.
            raise ValidationError(
                {
                    "dataset_name": f"Nothing new: {name} already holds "
                    f"the {known} promotable call{'s' if known != 1 else ''} of this filter."
                }
            )
        parts = [f"{added} promoted inference{'s' if added != 1 else ''}"]
        if known:
            parts.append(f"{known} already in the dataset")
        if problems:
            parts.append(f"{len(problems)} skipped")
        version.note = "; ".join(parts)
        version.save(update_fields=["note"])
        return version
