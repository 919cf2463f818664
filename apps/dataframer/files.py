"""The files a run generated, in its seed dataset's layout (seeds.py), read from the
run's samples when asked for; the ZIP of them all; and the signed, expiring URLs that
download both without the API key (as pydataframer's presigned URLs do)."""

import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from apps.datasets.models import Sample

from .models import DataframerRun, RunArchive, SeedFile
from .rows import write_rows
from .seeds import Layout, layout_of
from .uploads import MIME_TYPES

URL_MAX_AGE = 3600  # seconds: a download URL works for an hour
SIGNING_SALT = "dataframer.download"
ROWS_FILE_ID = "all"


@dataclass(frozen=True)
class GeneratedFile:
    id: str
    path: str
    file_type: str
    content: bytes

    def as_json(self) -> dict[str, Any]:
        size = len(self.content)
        return {"id": self.id, "path": self.path, "file_type": self.file_type, "size_bytes": size}


def _mime(extension: str) -> str:
    return MIME_TYPES.get(extension, "text/plain")


def _text(value: Any) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).encode()


def _sample_files(layout: Layout, index: int, payload: dict[str, Any]) -> Iterator[GeneratedFile]:
    stem = f"sample_{index + 1:05d}"
    if layout.kind == "folders":
        for position, name in enumerate(layout.names, 1):
            content = _text(payload.get(f"file_{position}", ""))
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else "txt"
            yield GeneratedFile(f"{index}-{position}", f"{stem}/{name}", _mime(extension), content)
        return
    key, extension = ("content", layout.extension) if layout.kind == "files" else ("text", "txt")
    path = f"{stem}.{extension}"
    yield GeneratedFile(str(index), path, _mime(extension), _text(payload.get(key, "")))


def _layout(dataframer_run: DataframerRun) -> Layout:
    return layout_of(dataframer_run.spec.seed_dataset)


def _samples(dataframer_run: DataframerRun) -> Iterator[tuple[int, dict[str, Any]]]:
    rows = Sample.objects.filter(run=dataframer_run.run_id).order_by("index")
    for index, payload in rows.values_list("index", "payload").iterator(chunk_size=500):
        yield (index or 0), payload


def generated_files(dataframer_run: DataframerRun) -> list[GeneratedFile]:
    """Every file of the run, with its content (a run's samples are a few MB at most)."""
    layout = _layout(dataframer_run)
    if layout.kind == "rows":
        rows = [payload for _, payload in _samples(dataframer_run)]
        if not rows:
            return []
        name = f"generated.{layout.extension}"
        return [
            GeneratedFile(
                ROWS_FILE_ID, name, _mime(layout.extension), write_rows(layout.extension, rows)
            )
        ]
    return [
        file
        for index, payload in _samples(dataframer_run)
        for file in _sample_files(layout, index, payload)
    ]


def generated_file(dataframer_run: DataframerRun, file_id: str) -> GeneratedFile | None:
    layout = _layout(dataframer_run)
    if layout.kind == "rows":
        return next((f for f in generated_files(dataframer_run) if f.id == file_id), None)
    index, _, _ = file_id.partition("-")
    if not index.isdigit():
        return None
    sample = Sample.objects.filter(run=dataframer_run.run_id, index=int(index)).first()
    if sample is None:
        return None
    return next(
        (f for f in _sample_files(layout, int(index), sample.payload) if f.id == file_id), None
    )


# ---- the ZIP ------------------------------------------------------------------------


def archive_write(*, archive: RunArchive) -> tuple[str, int]:
    """Write the run's ZIP (generated files, per-file `.metadata`, `top_level.metadata`)
    to a temporary name renamed when complete; its path under MEDIA_ROOT and size."""
    dataframer_run = archive.run
    run = dataframer_run.run
    relative = f"dataframer/archives/{run.project_id}/{dataframer_run.id}.zip"
    path = Path(settings.MEDIA_ROOT) / relative
    # A name of its own per delivery: two deliveries of the step (the reaper re-sent a slow
    # one) each write their own copy, and the rename makes one of them the file.
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    path.parent.mkdir(parents=True, exist_ok=True)
    files = generated_files(dataframer_run)
    summary = {
        "run_id": str(dataframer_run.id),
        "spec": dataframer_run.spec.name,
        "samples_completed": run.accepted,
        "files": len(files),
    }
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for file in files:
                out.writestr(file.path, file.content)
                meta = {"path": file.path, "file_type": file.file_type}
                out.writestr(f"{file.path}.metadata", json.dumps(meta))
            out.writestr("top_level.metadata", json.dumps(summary, indent=2))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return relative, path.stat().st_size


def archive_path(archive: RunArchive) -> Path:
    return Path(settings.MEDIA_ROOT) / archive.file


# ---- signed URLs --------------------------------------------------------------------


def signed_url(request: Any, what: dict[str, str]) -> str:
    token = signing.dumps(what, salt=SIGNING_SALT, compress=True)
    return request.build_absolute_uri(reverse("dataframer:download", args=[token]))


def run_file_url(request: Any, dataframer_run: DataframerRun, file_id: str) -> str:
    return signed_url(request, {"kind": "run_file", "run": str(dataframer_run.id), "file": file_id})


def archive_url(request: Any, dataframer_run: DataframerRun) -> str:
    return signed_url(request, {"kind": "archive", "run": str(dataframer_run.id)})


def seed_file_url(request: Any, seed_file: SeedFile) -> str:
    return signed_url(request, {"kind": "seed_file", "file": str(seed_file.id)})


def unsign(token: str) -> dict[str, str] | None:
    """What a download URL's token names, None when forged or older than an hour."""
    try:
        value = signing.loads(token, salt=SIGNING_SALT, max_age=URL_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, dict) else None
