from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.dataset_list, name="dataset_list"),
]

api_urlpatterns: list = []
