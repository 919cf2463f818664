"""Pages under /inference/ (included from apps/core/urls.py)."""

from django.urls import path

from . import views, views_labelling

urlpatterns = [
    path("", views.history, name="inference_home"),
    path("new/", views.history_new, name="inference_new"),
    path("promote/", views.promote_view, name="inference_promote"),
    path("<int:inference_id>/", views.inference_detail, name="inference_detail"),
    path("<int:inference_id>/feedback/", views.feedback, name="inference_feedback"),
    path("<int:inference_id>/correct/", views.correct, name="inference_correct"),
    path("models/", views.models_page, name="inference_models"),
    path(
        "models/aliases/<int:alias_id>/delete/", views.alias_delete, name="inference_alias_delete"
    ),
    path("label/", views_labelling.label_file, name="label_file"),
    path("label/<int:job_id>/", views_labelling.labelling_job, name="labelling_job"),
    path(
        "label/<int:job_id>/cancel/",
        views_labelling.labelling_job_cancel,
        name="labelling_job_cancel",
    ),
]
