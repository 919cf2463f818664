"""The withpi-compatible API's paths (mounted under `v1/` in config/urls.py: withpi
clients set PI_CLIENT_BASE_URL to http://<host>/v1)."""

from django.urls import path

from . import streams, views

urlpatterns = [
    path("data/generate", views.InputsJobsApi.as_view(), name="withpi_generate"),
    path("data/generate/<str:job_id>", views.InputsJobApi.as_view(), name="withpi_job"),
    path("data/generate/<str:job_id>/data", streams.inputs_data, name="withpi_data"),
    path("data/generate/<str:job_id>/messages", streams.inputs_messages, name="withpi_messages"),
    path("data/generate_input_response_pairs", views.PairsJobsApi.as_view(), name="withpi_pairs"),
    path(
        "data/generate_input_response_pairs/<str:job_id>",
        views.PairsJobApi.as_view(),
        name="withpi_pairs_job",
    ),
    path(
        "data/generate_input_response_pairs/<str:job_id>/data",
        streams.pairs_data,
        name="withpi_pairs_data",
    ),
    path(
        "data/generate_input_response_pairs/<str:job_id>/messages",
        streams.pairs_messages,
        name="withpi_pairs_messages",
    ),
]
