"""What the import_* commands share: arguments, output and error handling."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shelters.importing import ImportRejected, TableError
from shelters.models import Organization, User
from shelters.services.imports import import_file
from shelters.services.organizations import default_organization


class ImportCommand(BaseCommand):
    kind: str  # a key of shelters.importing.IMPORTERS

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help=f"the {self.kind} CSV file (interchange format, optional HXL row)")
        parser.add_argument(
            "--organization",
            default=settings.SHELTERS_DEFAULT_ORGANIZATION,
            help="slug of the submitting organisation (external_id is unique per organisation)",
        )
        parser.add_argument("--user", help="username recorded in the history as having made the change")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows and list the invalid ones, instead of rejecting the whole file",
        )

    def handle(self, *args, path: str, organization: str, user: str | None, skip_invalid: bool, **options) -> None:
        org = self._organization(organization)
        actor = self._user(user)
        try:
            result = import_file(
                kind=self.kind,
                file=path,
                organization=org,
                user=actor,
                skip_invalid=skip_invalid,
            )
        except TableError as error:
            raise CommandError(str(error)) from error
        except ImportRejected as rejected:
            for problem in rejected.errors:
                self.stderr.write(f"  {problem}")
            raise CommandError(f"{rejected}; nothing was imported") from rejected
        for problem in result.errors:
            self.stderr.write(f"  skipped {problem}")
        self.stdout.write(result.summary())

    def _organization(self, slug: str) -> Organization:
        if slug == settings.SHELTERS_DEFAULT_ORGANIZATION:
            return default_organization()
        try:
            return Organization.objects.get(slug=slug)
        except Organization.DoesNotExist:
            raise CommandError(f"no organisation with slug '{slug}'") from None

    def _user(self, username: str | None) -> User | None:
        if not username:
            return None
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"no user '{username}'") from None
