from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import services


class Command(BaseCommand):
    help = "Create a project, optionally with an owner. Prints the project id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--owner", help="username of the owner")

    def handle(self, *args: Any, **opts: Any) -> None:
        owner = None
        if opts["owner"]:
            try:
                owner = get_user_model().objects.get(username=opts["owner"])
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"No user named {opts['owner']!r}.") from exc
        try:
            project = services.project_create(name=opts["name"], owner=owner)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"created project {project.name} (id {project.pk}, slug {project.slug})")
