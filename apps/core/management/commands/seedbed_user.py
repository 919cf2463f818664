from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import services


class Command(BaseCommand):
    help = "Create a user (for provisioning scripts). The password comes from --password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--superuser", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            user = services.user_create(
                username=opts["username"],
                password=opts["password"],
                email=opts["email"],
                is_superuser=opts["superuser"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"created user {user.get_username()} (id {user.pk})")
