from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.run_list, name="run_list"),
]

api_urlpatterns: list = []
