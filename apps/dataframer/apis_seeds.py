"""Seed datasets: `/api/dataframer/seed-datasets/...`."""

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ProjectAPIView
from apps.core.models import Project
from apps.core.schema import ErrorOutput

from . import seed_services, selectors
from .errors import bad_request
from .files import seed_file_url
from .models import SeedDataset
from .presenters import seed_dataset_json
from .schemas import (
    TAG,
    DownloadOut,
    SeedDatasetFilesIn,
    SeedDatasetListItemOut,
    SeedDatasetOut,
    SeedDatasetZipIn,
)
from .uploads import (
    MAX_FILES,
    SINGLE_FILE_MAX_BYTES,
    TOTAL_MAX_BYTES,
    uploads_from_files,
    uploads_from_zip,
)


def _list(request: Request, field: str) -> list:
    """A multipart list as pydataframer sends it (`field[]`) or as curl does (`field`)."""
    data: Any = request.data
    if not hasattr(data, "getlist"):
        raise bad_request(field, "Send the dataset as multipart/form-data.")
    return [*data.getlist(field), *data.getlist(f"{field}[]")]


def _files(request: Request, field: str) -> list[UploadedFile]:
    files = [*request.FILES.getlist(field), *request.FILES.getlist(f"{field}[]")]
    if len(files) > MAX_FILES:
        raise bad_request(field, f"At most {MAX_FILES:,} files (got {len(files):,}).")
    if sum(f.size or 0 for f in files) > max(SINGLE_FILE_MAX_BYTES, TOTAL_MAX_BYTES):
        raise bad_request(field, "At most 50 MB in all.")
    return files


def _created(project: Project, dataset: SeedDataset) -> Response:
    """The new dataset as the selectors read it (its files without their content)."""
    fresh = selectors.seed_dataset_get(project=project, dataset_id=str(dataset.id))
    return Response(seed_dataset_json(fresh), status=status.HTTP_201_CREATED)


class SeedDatasetListApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_seed_datasets_list",
        responses=SeedDatasetListItemOut(many=True),
    )
    def get(self, request: Request) -> Response:
        datasets = selectors.seed_dataset_list(project=self.membership.project)
        return Response([seed_dataset_json(d, files=False) for d in datasets])


class SeedDatasetCreateApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_seed_datasets_create",
        request={"multipart/form-data": SeedDatasetFilesIn},
        responses={201: SeedDatasetOut, 409: ErrorOutput},
    )
    def post(self, request: Request) -> Response:
        files = _files(request, "files")
        if not files:
            raise bad_request("files", "Upload at least one file (multipart field `files`).")
        names = _list(request, "folder_names")
        uploads = uploads_from_files(
            ((f.name or "", f.read()) for f in files), [str(n) for n in names] if names else None
        )
        dataset = seed_services.seed_dataset_create(
            membership=self.membership,
            name=request.data.get("name"),
            dataset_type=request.data.get("dataset_type"),
            uploads=uploads,
            description=request.data.get("description", ""),
        )
        return _created(self.membership.project, dataset)


class SeedDatasetZipApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_seed_datasets_create_from_zip",
        request={"multipart/form-data": SeedDatasetZipIn},
        responses={201: SeedDatasetOut, 409: ErrorOutput},
    )
    def post(self, request: Request) -> Response:
        archives = _files(request, "zip_file")
        if len(archives) != 1:
            raise bad_request("zip_file", "Upload one ZIP file (multipart field `zip_file`).")
        dataset_type, uploads = uploads_from_zip(archives[0].read())
        dataset = seed_services.seed_dataset_create(
            membership=self.membership,
            name=request.data.get("name"),
            dataset_type=dataset_type,
            uploads=uploads,
            description=request.data.get("description", ""),
        )
        return _created(self.membership.project, dataset)


class SeedDatasetDetailApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG], operation_id="dataframer_seed_datasets_retrieve", responses=SeedDatasetOut
    )
    def get(self, request: Request, dataset_id: str) -> Response:
        project = self.membership.project
        dataset = selectors.seed_dataset_get(project=project, dataset_id=dataset_id)
        return Response(seed_dataset_json(dataset))

    @extend_schema(
        tags=[TAG],
        operation_id="dataframer_seed_datasets_delete",
        responses={204: None, 409: ErrorOutput},
    )
    def delete(self, request: Request, dataset_id: str) -> Response:
        project = self.membership.project
        dataset = selectors.seed_dataset_get(project=project, dataset_id=dataset_id)
        seed_services.seed_dataset_delete(membership=self.membership, dataset=dataset)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SeedFileApi(ProjectAPIView):
    @extend_schema(
        tags=[TAG], operation_id="dataframer_seed_datasets_files_download", responses=DownloadOut
    )
    def get(self, request: Request, dataset_id: str, file_id: str) -> Response:
        project = self.membership.project
        dataset = selectors.seed_dataset_get(project=project, dataset_id=dataset_id)
        seed_file = selectors.seed_file_get(dataset=dataset, file_id=file_id)
        return Response(
            {
                "download_url": seed_file_url(request, seed_file),
                "filename": seed_file.path.rsplit("/", 1)[-1],
                "content_type": seed_file.file_type,
            }
        )
