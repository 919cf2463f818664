from django.urls import include, path

from . import apis, views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/switch/", views.project_switch, name="project_switch"),
    path("providers/", views.provider_list, name="provider_list"),
    path("providers/new/", views.provider_create, name="provider_create"),
    path("providers/<int:provider_id>/edit/", views.provider_edit, name="provider_edit"),
    path("providers/<int:provider_id>/delete/", views.provider_delete, name="provider_delete"),
    path("providers/<int:provider_id>/test/", views.provider_test, name="provider_test"),
    path("settings/api-keys/", views.api_key_list, name="api_key_list"),
    path("settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("inference/", include("apps.inference.page_urls")),
]

api_urlpatterns = [
    path("providers/", apis.ProviderListApi.as_view(), name="api_provider_list"),
    path(
        "providers/<int:provider_id>/",
        apis.ProviderDetailApi.as_view(),
        name="api_provider_detail",
    ),
    path(
        "providers/<int:provider_id>/test/",
        apis.ProviderTestApi.as_view(),
        name="api_provider_test",
    ),
]
