"""The Collinear-compatible API's paths (mounted under /api/v1/ in config/urls.py)."""

from django.urls import path

from apps.inference.gateway.openapi import documented

from . import openapi, views

urlpatterns = [
    path(
        "synth_data/generate",
        documented(views.synth_data_generate, openapi.SynthDataGenerate),
        name="collinear_generate",
    ),
]
