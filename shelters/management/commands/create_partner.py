from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from knox.models import AuthToken

from shelters.models import Organization, User


class Command(BaseCommand):
    help = "Create a partner organisation with an API user; prints the new API token as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the organisation's slug, e.g. alpha-ngo")
        parser.add_argument("--name", required=True, help="the organisation's name")
        parser.add_argument("--kind", default=Organization.Kind.NGO, choices=Organization.Kind.values)

    @transaction.atomic
    def handle(self, *args, slug: str, name: str, kind: str, **options) -> None:
        organization = Organization(slug=slug, name=name, kind=kind)
        try:
            organization.full_clean()
        except Exception as error:
            messages = getattr(error, "message_dict", {"slug": [str(error)]})
            raise CommandError("; ".join(f"{field}: {' '.join(m)}" for field, m in messages.items())) from None
        organization.save()
        username = f"{slug}-api"
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user '{username}' exists already")
        user = User.objects.create_user(username=username, organization=organization, role=User.Role.EDITOR)
        user.set_unusable_password()  # an integration account: it signs in with its token only
        user.save(update_fields=["password"])
        _, token = AuthToken.objects.create(user=user)
        self.stdout.write(f"Created organisation '{slug}' and API user '{username}'. API token (shown once):")
        self.stdout.write(token)
