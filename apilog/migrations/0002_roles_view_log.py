"""Support and Finance (accounts' roles migration) may read the API request log: "why do my orders
fail" is a support question. Nobody may change it (the admin is read-only)."""
from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {"Support": [("apilog", "view_apirequest")], "Finance": [("apilog", "view_apirequest")]}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need this one now.
    app_config = apps.get_app_config("apilog")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group = Group.objects.filter(name=name).first()
        if group is None:  # removed by the operators: nothing to extend
            continue
        for app_label, codename in codenames:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="apilog"))


class Migration(migrations.Migration):
    dependencies = [
        ("apilog", "0001_initial"),
        ("accounts", "0005_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
