from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import services
from apps.core.models import Membership


class Command(BaseCommand):
    help = "Create an API key for a member of a project. Prints the key once, alone on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project slug")
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **opts: Any) -> None:
        membership = (
            Membership.objects.select_related("project", "user")
            .filter(project__slug=opts["project"], user__username=opts["username"])
            .first()
        )
        if membership is None:
            raise CommandError(f"{opts['username']!r} is not a member of {opts['project']!r}.")
        try:
            _, raw = services.api_key_create(membership=membership, name=opts["name"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(raw)
