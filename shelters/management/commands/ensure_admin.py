import secrets

from django.core.management.base import BaseCommand, CommandParser

from shelters.models import User


class Command(BaseCommand):
    help = "Create an admin login with a generated password, printed once; does nothing if it exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Admin login '{username}' already exists; its password was printed when it was created "
                f"(reset it with: python manage.py changepassword {username})."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Admin login created. Username: {username}  Password: {password}"))
        self.stdout.write("This password is shown only once.")
