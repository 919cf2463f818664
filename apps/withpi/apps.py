from django.apps import AppConfig


class WithpiConfig(AppConfig):
    name = "apps.withpi"
    label = "withpi"
    default_auto_field = "django.db.models.BigAutoField"
