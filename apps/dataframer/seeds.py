"""What a seed dataset becomes in a Seedbed spec (custom task type: seed rows and their
JSON schema), and the files a run of it writes back, in the seed dataset's own layout.

* SINGLE_FILE: each row is a seed; the run writes one file of rows in the same format.
* MULTI_FILE: each file is a seed `{"content": text}`; the run writes one file a sample.
* MULTI_FOLDER: each folder is a seed `{"file_1": text, "file_2": ...}` (its files in
  order); the run writes one folder a sample, its files named as in the first seed folder.
* seedless: samples are `{"text": ...}`, written as `.txt` files.

PDF seeds are stored and downloadable, but their text is not read (no PDF parser here):
they give the spec no examples.
"""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from apps.specs.json_schemas import infer_schema

from .models import DatasetType, SeedDataset, SeedFile
from .rows import parse_rows

MAX_SEEDS = 200
MAX_SEED_CHARS = 4_000  # of one file's text in a seed
MAX_SEEDS_BYTES = 1024 * 1024  # of all seeds, as JSON
TEXT_EXTENSIONS = ("txt", "md", "json", "csv", "jsonl")


def _string(name: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": name}


@dataclass(frozen=True)
class Layout:
    """How samples map to files: `rows` (one file), `files`, `folders` or `text`."""

    kind: str
    extension: str = "txt"
    # For folders: the file name of each position, from the first folder.
    names: tuple[str, ...] = ()

    def schema(self, seeds: list[dict[str, Any]]) -> dict[str, Any]:
        if self.kind == "rows":
            return infer_schema(seeds)
        if self.kind == "folders":
            keys = [f"file_{n}" for n in range(1, len(self.names) + 1)]
            properties = {key: _string(name) for key, name in zip(keys, self.names, strict=True)}
            return {"type": "object", "properties": properties, "required": keys}
        key = "content" if self.kind == "files" else "text"
        return {"type": "object", "properties": {key: _string(key)}, "required": [key]}


def _extension(path: str) -> str:
    return PurePosixPath(path).suffix.lower().lstrip(".")


def _text(file: SeedFile) -> str | None:
    if _extension(file.path) not in TEXT_EXTENSIONS:
        return None
    return bytes(file.content).decode("utf-8", errors="replace")[:MAX_SEED_CHARS]


def layout_of(dataset: SeedDataset | None) -> Layout:
    if dataset is None:
        return Layout("text")
    files = list(dataset.files.only("path").order_by("position"))
    if dataset.dataset_type == DatasetType.SINGLE_FILE:
        return Layout("rows", _extension(files[0].path))
    if dataset.dataset_type == DatasetType.MULTI_FILE:
        common = Counter(_extension(f.path) for f in files).most_common(1)
        return Layout("files", common[0][0] if common else "txt")
    first = files[0].path.partition("/")[0] if files else ""
    names = tuple(f.path.partition("/")[2] for f in files if f.path.partition("/")[0] == first)
    return Layout("folders", names=names)


def _capped(seeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept, size = [], 0
    for seed in seeds[:MAX_SEEDS]:
        size += len(json.dumps(seed, ensure_ascii=False).encode())
        if size > MAX_SEEDS_BYTES:
            break
        kept.append(seed)
    return kept


def seeds_of(dataset: SeedDataset | None, layout: Layout) -> list[dict[str, Any]]:
    """The dataset's samples as spec seeds (at most MAX_SEEDS, 1 MB of JSON)."""
    if dataset is None:
        return []
    files = list(dataset.files.order_by("position"))
    if layout.kind == "rows":
        return _capped(parse_rows(layout.extension, bytes(files[0].content))[:MAX_SEEDS])
    if layout.kind == "files":
        texts = [_text(f) or "" for f in files]
        return _capped([{"content": t} for t in texts if t.strip()])
    folders: dict[str, list[SeedFile]] = {}
    for file in files:
        folders.setdefault(file.folder, []).append(file)
    seeds = []
    for members in folders.values():
        texts = [_text(f) or "" for f in members[: len(layout.names)]]
        if len(texts) == len(layout.names) and all(t.strip() for t in texts):
            seeds.append({f"file_{n}": t for n, t in enumerate(texts, 1)})
    return _capped(seeds)
