"""Seed files as uploaded (multipart files or one ZIP): checked against the limits
pydataframer documents before anything is stored, and ZIP members before extraction.

* SINGLE_FILE: one CSV, JSON or JSONL file of at most 50 MB and at least 2 rows;
* MULTI_FILE: 2 to 1,000 TXT, MD, JSON, CSV, JSONL or PDF files, 1 MB each, 50 MB in all;
* MULTI_FOLDER: the same, at most 20 files a folder and at least 2 folders.
"""

import io
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from .errors import ApiError
from .models import DatasetType
from .rows import parse_rows

MB = 1024 * 1024
SINGLE_FILE_MAX_BYTES = 50 * MB
FILE_MAX_BYTES = 1 * MB
TOTAL_MAX_BYTES = 50 * MB
MIN_FILES, MAX_FILES = 2, 1000
MAX_PER_FOLDER = 20
MIN_FOLDERS = 2
MIN_ROWS = 2
# A ZIP may hold a little more than the files it carries (directories, metadata).
ZIP_MAX_MEMBERS = MAX_FILES + 100
MAX_PATH_CHARS = 300

MIME_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "jsonl": "application/jsonl",
    "txt": "text/plain",
    "md": "text/markdown",
    "pdf": "application/pdf",
}
SINGLE_FILE_FORMATS = ("csv", "json", "jsonl")
MULTI_FORMATS = tuple(MIME_TYPES)


@dataclass(frozen=True)
class Upload:
    path: str  # "name.ext" or "folder/name.ext"
    content: bytes

    @property
    def extension(self) -> str:
        return PurePosixPath(self.path).suffix.lower().lstrip(".")

    @property
    def folder(self) -> str:
        return self.path.rpartition("/")[0]

    @property
    def file_type(self) -> str:
        return MIME_TYPES[self.extension]


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, {field: [message]})


def _safe_name(name: str, field: str) -> str:
    """A file or folder name without directories, `..`, or control characters."""
    clean = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not clean or clean in (".", "..") or any(ord(c) < 32 for c in clean):
        raise _bad(field, f"{name!r} is not a usable file name.")
    if len(clean) > MAX_PATH_CHARS:
        raise _bad(field, f"File names can be at most {MAX_PATH_CHARS} characters.")
    return clean


def check_uploads(dataset_type: str, uploads: list[Upload], field: str = "files") -> int | None:
    """Refuse what breaks a limit (400 naming the field); the row count of a SINGLE_FILE."""
    if dataset_type == DatasetType.SINGLE_FILE:
        return _check_single(uploads, field)
    _check_multi(dataset_type, uploads, field)
    return None


def _check_single(uploads: list[Upload], field: str) -> int:
    if len(uploads) != 1:
        raise _bad(field, f"A SINGLE_FILE dataset has exactly 1 file (got {len(uploads)}).")
    upload = uploads[0]
    if upload.extension not in SINGLE_FILE_FORMATS:
        raise _bad(field, f"{upload.path}: a SINGLE_FILE dataset takes CSV, JSON or JSONL.")
    if len(upload.content) > SINGLE_FILE_MAX_BYTES:
        raise _bad(field, f"{upload.path}: at most 50 MB (got {len(upload.content):,} bytes).")
    try:
        rows = parse_rows(upload.extension, upload.content)
    except ValueError as exc:
        raise _bad(field, f"{upload.path}: {exc}") from exc
    if len(rows) < MIN_ROWS:
        raise _bad(field, f"{upload.path}: at least {MIN_ROWS} rows (got {len(rows)}).")
    return len(rows)


def _check_multi(dataset_type: str, uploads: list[Upload], field: str) -> None:
    if not MIN_FILES <= len(uploads) <= MAX_FILES:
        raise _bad(
            field, f"{dataset_type}: {MIN_FILES} to {MAX_FILES:,} files (got {len(uploads)})."
        )
    total = 0
    for upload in uploads:
        if upload.extension not in MULTI_FORMATS:
            formats = ", ".join(f.upper() for f in MULTI_FORMATS)
            raise _bad(field, f"{upload.path}: the formats taken are {formats}.")
        if len(upload.content) > FILE_MAX_BYTES:
            raise _bad(field, f"{upload.path}: at most 1 MB per file.")
        total += len(upload.content)
    if total > TOTAL_MAX_BYTES:
        raise _bad(field, f"At most 50 MB in all (got {total:,} bytes).")
    paths = Counter(upload.path for upload in uploads)
    twice = [path for path, n in paths.items() if n > 1]
    if twice:
        raise _bad(field, f"{twice[0]} appears more than once.")
    if dataset_type == DatasetType.MULTI_FOLDER:
        folders = Counter(upload.folder for upload in uploads)
        if "" in folders:
            raise _bad("folder_names", "Every file of a MULTI_FOLDER dataset is in a folder.")
        if len(folders) < MIN_FOLDERS:
            raise _bad("folder_names", f"At least {MIN_FOLDERS} different folders.")
        full = [name for name, n in folders.items() if n > MAX_PER_FOLDER]
        if full:
            raise _bad("folder_names", f"{full[0]}: at most {MAX_PER_FOLDER} files per folder.")
    elif any(upload.folder for upload in uploads):
        raise _bad(field, "MULTI_FILE files are at the root (use MULTI_FOLDER for folders).")


def uploads_from_files(
    files: Iterable[tuple[str, bytes]], folder_names: list[str] | None
) -> list[Upload]:
    """Multipart files, each in the folder of the same position in `folder_names`."""
    files = list(files)
    if folder_names is not None and len(folder_names) != len(files):
        raise _bad(
            "folder_names",
            f"One folder name per file ({len(folder_names)} names for {len(files)} files).",
        )
    uploads = []
    for position, (name, content) in enumerate(files):
        clean = _safe_name(name, "files")
        if folder_names is not None:
            clean = f"{_safe_name(folder_names[position], 'folder_names')}/{clean}"
        uploads.append(Upload(clean, content))
    return uploads


def _member_path(info: zipfile.ZipInfo) -> str | None:
    """The member's path, None for a directory or metadata to skip; 400 for a path that
    would leave the archive."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _bad("zip_file", f"{info.filename}: absolute paths are refused.")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _bad("zip_file", f"{info.filename}: paths with '..' are refused.")
    if info.is_dir() or not parts:
        return None
    if parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] == ".DS_Store":
        return None
    if len(parts) > 2:
        raise _bad("zip_file", f"{info.filename}: folders cannot be nested (one level at most).")
    return "/".join(_safe_name(p, "zip_file") for p in parts)


def uploads_from_zip(data: bytes) -> tuple[str, list[Upload]]:
    """The dataset type the archive's layout says, and its files. Every member's size,
    count and path is checked from the archive's directory before one byte is inflated,
    and the inflated size is checked again while reading (a lying header)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _bad("zip_file", "Not a readable ZIP archive.") from exc
    if len(infos) > ZIP_MAX_MEMBERS:
        raise _bad("zip_file", f"At most {MAX_FILES:,} files (the archive has {len(infos):,}).")
    members = [(info, path) for info in infos if (path := _member_path(info)) is not None]
    if not members:
        raise _bad("zip_file", "The archive holds no files.")
    single = len(members) == 1
    per_file = SINGLE_FILE_MAX_BYTES if single else FILE_MAX_BYTES
    total = 0
    for info, path in members:
        if info.file_size > per_file:
            raise _bad("zip_file", f"{path}: at most {per_file // MB} MB per file.")
        total += info.file_size
    if total > TOTAL_MAX_BYTES:
        raise _bad("zip_file", f"At most 50 MB in all, uncompressed (got {total:,} bytes).")
    uploads = [Upload(path, _read_member(archive, info, per_file)) for info, path in members]
    if single:
        return DatasetType.SINGLE_FILE, [
            Upload(uploads[0].path.rsplit("/", 1)[-1], uploads[0].content)
        ]
    if any(upload.folder for upload in uploads):
        return DatasetType.MULTI_FOLDER, uploads
    return DatasetType.MULTI_FILE, uploads


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    try:
        with archive.open(info) as member:
            content = member.read(limit + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise _bad("zip_file", f"{info.filename}: cannot be read ({exc}).") from exc
    if len(content) > limit:
        raise _bad("zip_file", f"{info.filename}: larger than its header says.")
    return content
