from django.urls import path

from . import apis, views, views_exports, views_samples

urlpatterns: list = [
    path("", views.dataset_list, name="dataset_list"),
    path("import/", views.dataset_import, name="dataset_import"),
    path("<int:dataset_id>/", views.dataset_detail, name="dataset_detail"),
    path(
        "<int:dataset_id>/progress/",
        views.dataset_review_progress,
        name="dataset_review_progress",
    ),
    path("<int:dataset_id>/export/", views_exports.dataset_export, name="dataset_export"),
    path("samples/<int:sample_id>/", views_samples.sample_row, name="sample_row"),
    path("samples/<int:sample_id>/review/", views_samples.sample_review, name="sample_review"),
    path("samples/<int:sample_id>/edit/", views_samples.sample_edit, name="sample_edit"),
    path("samples/<int:sample_id>/labels/", views_samples.sample_labels, name="sample_labels"),
    path(
        "samples/<int:sample_id>/lineage/",
        views_samples.sample_lineage,
        name="sample_lineage",
    ),
    path("exports/<int:job_id>/", views_exports.export_job, name="export_job"),
    path("exports/<int:job_id>/download/", views_exports.export_download, name="export_download"),
]

api_urlpatterns: list = [
    path("datasets/", apis.DatasetListApi.as_view(), name="api_dataset_list"),
    path("datasets/import/", apis.DatasetImportApi.as_view(), name="api_dataset_import"),
    path("datasets/<int:dataset_id>/", apis.DatasetDetailApi.as_view(), name="api_dataset_detail"),
    path(
        "datasets/<int:dataset_id>/samples/",
        apis.SampleListApi.as_view(),
        name="api_sample_list",
    ),
    path(
        "datasets/<int:dataset_id>/export",
        apis.DatasetExportStreamApi.as_view(),
        name="api_dataset_export",
    ),
    path(
        "datasets/<int:dataset_id>/exports/",
        apis.ExportJobCreateApi.as_view(),
        name="api_export_create",
    ),
    path("samples/<int:sample_id>/", apis.SampleDetailApi.as_view(), name="api_sample_detail"),
    path("exports/<int:job_id>/", apis.ExportJobDetailApi.as_view(), name="api_export_detail"),
    path(
        "exports/<int:job_id>/download/",
        apis.ExportJobDownloadApi.as_view(),
        name="api_export_download",
    ),
]
