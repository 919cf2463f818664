from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from apps.core import services

DEMO_USER = "admin"
DEMO_PASSWORD = "seedbed-demo"  # noqa: S105 - printed for the first login; change it
DEMO_PROJECT = "Demo project"


class Command(BaseCommand):
    help = "On first start, create the demo admin and project; always print how to log in."

    def handle(self, *args: Any, **opts: Any) -> None:
        User = get_user_model()
        if not User.objects.exists():
            user = services.user_create(
                username=DEMO_USER, password=DEMO_PASSWORD, is_superuser=True
            )
            services.project_create(name=DEMO_PROJECT, owner=user)
            self.stdout.write(
                f"created demo user {DEMO_USER!r} with password {DEMO_PASSWORD!r} "
                f"and project {DEMO_PROJECT!r}: change the password after logging in."
            )
        self.stdout.write("Seedbed: open http://127.0.0.1:8000/ (admin: /admin/)")
