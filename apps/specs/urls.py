from django.urls import path

from . import views

urlpatterns: list = [
    path("", views.spec_list, name="spec_list"),
]

api_urlpatterns: list = []
