"""The operator roles: "Support" and "Finance" groups with their permissions.

Support sees orders and resellers and may cancel, resend and finish orders (orders.change_order;
refunds follow the lifecycle rules), but moves no money, issues no keys and edits no prices.
Finance sees everything and moves money. Superusers do everything.
"""
from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ALL = [
    ("orders", "view_order"), ("orders", "view_orderevent"),
    ("accounts", "view_account"), ("accounts", "view_apikey"), ("accounts", "view_ledgerentry"),
    ("catalog", "view_category"), ("catalog", "view_service"), ("catalog", "view_pricechange"),
]
ROLES = {
    "Support": [*VIEW_ALL, ("orders", "change_order")],
    "Finance": [*VIEW_ALL, ("accounts", "move_money")],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in codenames:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_operator_permissions"),
        ("orders", "0002_simulated_fulfillment"),
        ("catalog", "0003_price_history"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
