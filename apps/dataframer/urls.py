"""The Dataframer-compatible API's paths (mounted under `api/` in config/urls.py)."""

from django.urls import path

from . import apis_runs, apis_seeds, apis_specs, pages, views

app_name = "dataframer"

SEEDS = "dataframer/seed-datasets/"
RUNS = "dataframer/runs/<str:run_id>/"

urlpatterns = [
    path("data-plane/token/", views.data_plane_token, name="data_plane_token"),
    path("dataframer/downloads/<str:token>/", views.download, name="download"),
    path(SEEDS, apis_seeds.SeedDatasetListApi.as_view(), name="seed_datasets"),
    path(f"{SEEDS}create/", apis_seeds.SeedDatasetCreateApi.as_view(), name="seed_create"),
    path(f"{SEEDS}create-from-zip/", apis_seeds.SeedDatasetZipApi.as_view(), name="seed_zip"),
    path(f"{SEEDS}<str:dataset_id>/", apis_seeds.SeedDatasetDetailApi.as_view(), name="seed"),
    path(
        f"{SEEDS}<str:dataset_id>/files/<str:file_id>/",
        apis_seeds.SeedFileApi.as_view(),
        name="seed_file",
    ),
    path("dataframer/specs/", apis_specs.SpecListApi.as_view(), name="specs"),
    path("dataframer/specs/<str:spec_id>/", apis_specs.SpecDetailApi.as_view(), name="spec"),
    path("dataframer/runs/", apis_runs.RunListApi.as_view(), name="runs"),
    path(RUNS, apis_runs.RunDetailApi.as_view(), name="run"),
    path(f"{RUNS}cancel/", apis_runs.RunCancelApi.as_view(), name="run_cancel"),
    path(f"{RUNS}files/download/", apis_runs.RunArchiveApi.as_view(), name="run_archive"),
    path(
        f"{RUNS}files/<str:file_id>/download/",
        apis_runs.RunFileApi.as_view(),
        name="run_file",
    ),
]

# The spec pages' "Draft a spec from seeds" (mounted under `specs/draft/`).
page_urlpatterns = [
    path("", pages.spec_draft, name="spec_draft"),
    path("<uuid:uid>/", pages.spec_draft_status, name="spec_draft_status"),
]
