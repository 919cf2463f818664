"""Request handling shared by every page and endpoint."""

from django.http import HttpRequest
from django.urls import get_urlconf, is_valid_path
from django.utils.deprecation import MiddlewareMixin


class ApiTrailingSlashMiddleware(MiddlewareMixin):
    """Serves `/api/v1/specs` as `/api/v1/specs/`.

    Scripts write API paths with and without the slash. CommonMiddleware's APPEND_SLASH
    answers those with a redirect, which drops a POST's body (and is an error page under
    DEBUG); an API client gains nothing from it, so the path is completed in place.
    """

    def process_request(self, request: HttpRequest) -> None:
        path = request.path_info
        if not path.startswith("/api/") or path.endswith("/"):
            return
        urlconf = getattr(request, "urlconf", None) or get_urlconf()
        if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
            request.path_info = f"{path}/"
            request.path = f"{request.path}/"
