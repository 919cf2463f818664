"""Forms of the inference pages: the labelling upload, history filters, corrections,
promotion and aliases. Parsing and limits only; the writes are services."""

import csv
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from apps.core.inputs import InputError, parse_json
from apps.core.models import Provider
from apps.specs.models import TaskType

from . import labelling
from .labelling_jobs import MAX_FILE_TEXTS
from .models import Verdict

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_REPORTED = 10
UNREVIEWED = "unreviewed"
# A call's task (the history filter's values) → the name pages show; labelling tasks are
# named by their task type, as everywhere else.
TASK_NAMES: dict[str, str] = {
    "extract": "Extraction",
    **{
        task: f"Labelling · {TaskType(kind).label}" for kind, task in labelling.HISTORY_TASK.items()
    },
    "generate": "Generation",
    "chat": "Chat completion (OpenAI)",
    "completion": "Completion (OpenAI)",
    "responses": "Response (OpenAI)",
    "messages": "Message (Anthropic)",
}
FORMATS = ("txt", "jsonl", "csv")


# --- the file of texts ---------------------------------------------------------------


def file_format(name: str, head: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".txt":
        return "txt"
    return "jsonl" if head.lstrip().startswith("{") else "txt"


def _jsonl(text: str, problems: list[str]) -> list[tuple[int, str]]:
    found = []
    # str.splitlines would also split inside JSON strings on U+2028 and friends.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except InputError as exc:
            problems.append(f"Line {number}: {exc.reason}")
            continue
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            problems.append(f'Line {number}: expected an object with a "text" string.')
            continue
        found.append((number, row["text"]))
    return found


def _csv(text: str, problems: list[str]) -> list[tuple[int, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return []
    columns = [name.strip().lower() for name in header]
    if "text" not in columns:
        problems.append(f"Line 1: no `text` column (the header has: {', '.join(header)}).")
        return []
    column = columns.index("text")
    found = []
    try:
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= column:
                problems.append(f"Line {number}: the row has no `text` cell.")
                continue
            found.append((number, row[column]))
    except csv.Error as exc:
        problems.append(f"Line {reader.line_num}: {exc}.")
    return found


def parse_texts(name: str, data: bytes) -> tuple[list[str], list[int]]:
    """Texts and their line numbers from a TXT (one per line), JSONL (`text` field) or CSV
    (`text` column) file; ValidationError listing the problems with their lines."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; at most {MAX_FILE_BYTES // 2**20} MB."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(f"Line {line}: the file is not UTF-8 text.") from exc
    problems: list[str] = []
    fmt = file_format(name, text[:200])
    if fmt == "jsonl":
        found = _jsonl(text, problems)
    elif fmt == "csv":
        found = _csv(text, problems)
    else:
        found = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    for number, item in found:
        if len(item) > labelling.MAX_TEXT_CHARS:
            problems.append(
                f"Line {number}: the text has {len(item):,} characters; "
                f"at most {labelling.MAX_TEXT_CHARS:,}."
            )
        elif not item.strip():
            problems.append(f"Line {number}: the text is empty.")
    if len(found) > MAX_FILE_TEXTS:
        problems.insert(0, f"The file has {len(found):,} texts; at most {MAX_FILE_TEXTS:,}.")
    if not found and not problems:
        problems.append("The file holds no texts.")
    if problems:
        more = len(problems) - MAX_REPORTED
        shown = problems[:MAX_REPORTED] + ([f"… and {more} more problems."] if more > 0 else [])
        raise ValidationError(shown)
    return [t for _, t in found], [n for n, _ in found]


def split_labels(value: str) -> list[str]:
    """Labels typed one per line or separated by commas."""
    parts = value.replace(",", "\n").split("\n")
    return [p.strip() for p in parts if p.strip()]


class LabelFileForm(forms.Form):
    file = forms.FileField(help_text="TXT (one text per line), JSONL (a `text` field) or CSV.")
    task = forms.ChoiceField(
        choices=[(TaskType.NER, "Entities (NER)"), (TaskType.CLASSIFICATION, "Classification")]
    )
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Entity types or class names, one per line or comma-separated (1 to 200).",
    )
    multi_label = forms.BooleanField(required=False, help_text="Classification: several classes.")
    model_id = forms.CharField(max_length=320, required=False)
    dataset_name = forms.CharField(max_length=120)
    threshold = forms.FloatField(min_value=0, max_value=1, initial=labelling.DEFAULT_THRESHOLD)

    def clean_labels(self) -> list[str]:
        try:
            return labelling.labels_check(split_labels(self.cleaned_data["labels"]))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["labels"]) from exc

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        texts, lines = parse_texts(upload.name or "upload", upload.read())
        self.texts, self.lines = texts, lines
        return upload


# --- history filters -------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    model_id: str = ""
    task: str = ""
    verdict: str = ""
    training_job_id: str = ""

    @classmethod
    def from_query(cls, data: QueryDict) -> "HistoryFilters":
        verdict = data.get("verdict", "")
        return cls(
            model_id=data.get("model_id", "").strip()[:320],
            task=data.get("task", "").strip()[:30],
            verdict=verdict if verdict in (*Verdict.values, UNREVIEWED) else "",
            training_job_id=data.get("training_job_id", "").strip()[:200],
        )

    def selector_kwargs(self) -> dict[str, Any]:
        """`inference_list` keywords; its `verdict=""` means "no feedback yet"."""
        kwargs: dict[str, Any] = {k: v or None for k, v in self.__dict__.items()}
        if self.verdict == UNREVIEWED:
            kwargs["verdict"] = ""
        return kwargs

    def params(self) -> str:
        return urlencode({k: v for k, v in self.__dict__.items() if v})

    def items(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.__dict__.items() if v]


class AliasForm(forms.Form):
    alias = forms.SlugField(max_length=120, help_text="Callers then use it as the model id.")
    provider = forms.ModelChoiceField(queryset=Provider.objects.none(), empty_label=None)
    model = forms.CharField(max_length=200)

    def __init__(self, *args: Any, project: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["provider"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = project.providers.all()


# --- corrections -----------------------------------------------------------------------


def parse_entities(raw: str) -> list[dict[str, Any]]:
    """The entity list typed in the correction editor; ValidationError naming the entry."""
    try:
        value = parse_json(raw or "[]")
    except InputError as exc:
        raise ValidationError(f"Entities are {exc.reason}") from None
    if isinstance(value, dict) and isinstance(value.get("entities"), list):
        value = value["entities"]
    if not isinstance(value, list):
        raise ValidationError("Entities must be a JSON list of {text, label, start, end}.")
    for number, entity in enumerate(value, start=1):
        if not isinstance(entity, dict):
            raise ValidationError(f"Entity {number} must be an object.")
        if not isinstance(entity.get("label"), str) or not entity["label"].strip():
            raise ValidationError(f"Entity {number} has no label.")
    return value
