from django.apps import AppConfig


class CollinearConfig(AppConfig):
    name = "apps.collinear"
    label = "collinear"
    default_auto_field = "django.db.models.BigAutoField"
