from typing import Any

from django.http import HttpRequest

from . import selectors


def current_project(request: HttpRequest) -> dict[str, Any]:
    """The project switcher's data, for every page of a signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "membership": membership,
        "current_project": membership.project if membership else None,
        "user_projects": selectors.project_list_for_user(user=user),
    }
