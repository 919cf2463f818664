from django.http import HttpRequest, HttpResponse

from apps.core.models import Membership
from apps.core.views import coming_soon
from apps.core.web import project_view


@project_view
def dataset_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return coming_soon.__wrapped__(request, membership, section="datasets")  # type: ignore[attr-defined]
