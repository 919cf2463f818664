"""The Withpi-compatible API's paths (mounted in config/urls.py)."""

urlpatterns: list = []
