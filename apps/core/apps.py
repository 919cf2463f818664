from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from . import allowlist, schema  # noqa: F401 - schema registers the OpenAPI auth extension

        checks.register(allowlist.check_env_entries)
