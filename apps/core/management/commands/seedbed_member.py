from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core import services
from apps.core.models import Project, Role


class Command(BaseCommand):
    help = "Add a user to a project (or change their role)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project slug")
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            project = Project.objects.get(slug=opts["project"])
            user = get_user_model().objects.get(username=opts["username"])
        except (Project.DoesNotExist, get_user_model().DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        try:
            services.membership_set(project=project, user=user, role=opts["role"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"{user.get_username()} is {opts['role']} of {project.slug}")
