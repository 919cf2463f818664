from django.apps import AppConfig


class SpecsConfig(AppConfig):
    name = "apps.specs"
    label = "specs"
    default_auto_field = "django.db.models.BigAutoField"
