from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apps.core.docs import api_docs
from apps.core.urls import api_urlpatterns as core_api
from apps.dataframer.urls import page_urlpatterns as dataframer_pages
from apps.datasets.urls import api_urlpatterns as datasets_api
from apps.inference.apis_labelling import ClassificationLabelExistingApi, NerLabelExistingApi
from apps.inference.urls import api_urlpatterns as inference_api
from apps.inference.urls import root_urlpatterns as inference_root
from apps.runs.pioneer import GenerateApi, GenerateJobApi
from apps.runs.urls import api_urlpatterns as runs_api
from apps.specs.urls import api_urlpatterns as specs_api

handler404 = "apps.core.api_paths.not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include(core_api + specs_api + runs_api + datasets_api + inference_api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", api_docs, name="api_docs"),
    # Pioneer-compatible paths, at the root as Pioneer's clients expect them.
    path("generate", GenerateApi.as_view(), name="pioneer_generate"),
    path("generate/jobs/<str:job_id>", GenerateJobApi.as_view(), name="pioneer_job"),
    path("generate/ner/label-existing", NerLabelExistingApi.as_view(), name="pioneer_label_ner"),
    path(
        "generate/classification/label-existing",
        ClassificationLabelExistingApi.as_view(),
        name="pioneer_label_classification",
    ),
    # withpi clients set PI_CLIENT_BASE_URL to http://<host>/v1 (README).
    path("v1/", include("apps.withpi.urls")),
    # Collinear's and Dataframer's paths, as their clients call them.
    path("api/v1/", include("apps.collinear.urls")),
    path("api/", include("apps.dataframer.urls")),
    path("specs/draft/", include(dataframer_pages)),
    path("specs/", include("apps.specs.urls")),
    path("runs/", include("apps.runs.urls")),
    path("datasets/", include("apps.datasets.urls")),
    # Inference gateway and history (Pioneer, OpenAI and Anthropic paths).
    *inference_root,
    path("", include("apps.core.urls")),
]
