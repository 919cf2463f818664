"""The Collinear-compatible API's paths (mounted under /api/v1/ in config/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("synth_data/generate", views.synth_data_generate, name="collinear_generate"),
]
