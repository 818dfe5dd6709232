"""Create the local admin account that `make run` prints once.

Only `make run` calls this; no migration or production setting creates accounts.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser 'admin' with a random password, unless a superuser exists."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        User = get_user_model()
        existing = User.objects.filter(is_superuser=True).first()
        if existing:
            self.stdout.write(
                f"Admin account: {existing.get_username()} (exists; its password was printed "
                "when it was created; `manage.py changepassword` sets a new one)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(f"Admin account created: {username} / {password} (shown once).")
        )
