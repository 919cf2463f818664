from django.apps import AppConfig


class DataframerConfig(AppConfig):
    name = "apps.dataframer"
    label = "dataframer"
    default_auto_field = "django.db.models.BigAutoField"
