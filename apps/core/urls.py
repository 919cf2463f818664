from django.urls import include, path

from . import apis, views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/switch/", views.project_switch, name="project_switch"),
    path("providers/", views.provider_list, name="provider_list"),
    path("providers/new/", views.provider_create, name="provider_create"),
    path("providers/<int:provider_id>/", views.provider_detail, name="provider_detail"),
    path("providers/<int:provider_id>/edit/", views.provider_edit, name="provider_edit"),
    path(
        "providers/<int:provider_id>/prices/", views.provider_price_set, name="provider_price_set"
    ),
    path(
        "providers/<int:provider_id>/prices/delete/",
        views.provider_price_delete,
        name="provider_price_delete",
    ),
    path(
        "providers/<int:provider_id>/models/",
        views.provider_model_options,
        name="provider_model_options",
    ),
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
    path(
        "providers/<int:provider_id>/prices/",
        apis.PriceListApi.as_view(),
        name="api_provider_prices",
    ),
    path(
        "providers/<int:provider_id>/prices/<path:model>/",
        apis.PriceDetailApi.as_view(),
        name="api_provider_price",
    ),
]
