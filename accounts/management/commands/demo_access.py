import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Account
from accounts.services import apikey_issue, apikey_revoke

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = (
        "For a local demo (`make run`): revoke the demo reseller's keys and issue a fresh one, and give "
        "the `admin` superuser a fresh random password. Prints both; neither is stored in clear."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reseller", default="demo", help="Reseller whose key is rotated (default demo).")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the panel is served.")

    @transaction.atomic
    def handle(self, *args, reseller: str, base_url: str, **options):
        account = Account.objects.filter(user__username=reseller).first()
        if account is None:
            raise CommandError(f"No reseller named {reseller!r}: run `manage.py seed_demo` first.")
        for old_key in account.api_keys.filter(revoked_at__isnull=True):
            apikey_revoke(api_key=old_key)
        _, key = apikey_issue(account=account, label="demo key (make run)")

        password = secrets.token_urlsafe(12)
        User = get_user_model()
        admin = User.objects.filter(username=ADMIN_USERNAME).first()
        if admin is None:
            admin = User.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
        else:
            # Whatever became of it, the printed login must work.
            admin.set_password(password)
            admin.is_active = admin.is_staff = admin.is_superuser = True
            admin.save(update_fields=["password", "is_active", "is_staff", "is_superuser"])

        base_url = base_url.rstrip("/")
        self.stdout.write(f"API:    {base_url}/api/v2   (reseller {reseller!r})")
        self.stdout.write(f"Admin:  {base_url}/admin/   user {ADMIN_USERNAME!r} password {password}")
        self.stdout.write(f"API key: {key}")
