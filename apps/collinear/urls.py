"""The Collinear-compatible API's paths (mounted in config/urls.py)."""

urlpatterns: list = []
