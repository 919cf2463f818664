from django.urls import path

from . import apis, views

urlpatterns: list = [
    path("", views.spec_list, name="spec_list"),
    path("new/", views.spec_create, name="spec_create"),
    path("<int:spec_id>/", views.spec_detail, name="spec_detail"),
    path("<int:spec_id>/edit/", views.spec_edit, name="spec_edit"),
    path(
        "<int:spec_id>/versions/<int:number>/status/",
        views.spec_version_status,
        name="spec_version_status",
    ),
]

api_urlpatterns: list = [
    path("specs/", apis.SpecListApi.as_view(), name="api_spec_list"),
    path("specs/<int:spec_id>/", apis.SpecDetailApi.as_view(), name="api_spec_detail"),
    path(
        "specs/<int:spec_id>/versions/",
        apis.SpecVersionListApi.as_view(),
        name="api_spec_version_list",
    ),
    path(
        "specs/<int:spec_id>/versions/<int:number>/",
        apis.SpecVersionDetailApi.as_view(),
        name="api_spec_version_detail",
    ),
]
