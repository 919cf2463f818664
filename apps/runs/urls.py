from django.urls import path

from . import apis, views

urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("new/", views.run_create, name="run_create"),
    path("compare/", views.run_compare_page, name="run_compare"),
    path("<int:run_id>/", views.run_detail, name="run_detail"),
    path("<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
]

api_urlpatterns = [
    path("runs/", apis.RunListApi.as_view(), name="api_run_list"),
    path("runs/<int:run_id>/", apis.RunDetailApi.as_view(), name="api_run_detail"),
    path("runs/<int:run_id>/cancel/", apis.RunCancelApi.as_view(), name="api_run_cancel"),
]
