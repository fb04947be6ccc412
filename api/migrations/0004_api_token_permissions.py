"""Carry grants on knox's token permissions over to the APIToken proxy.

The admin now checks ``api.*_apitoken``: a user or group that could view or
revoke tokens through knox's admin keeps that right here.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = ("add", "change", "delete", "view")


def copy_grants(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); this one needs them now.
    app_config = apps.get_app_config("api")
    app_config.models_module = True  # the historical app's stub lacks it; create_permissions skips apps without
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    for action in ACTIONS:
        old = Permission.objects.filter(content_type__app_label="knox", codename=f"{action}_authtoken").first()
        new = Permission.objects.filter(content_type__app_label="api", codename=f"{action}_apitoken").first()
        if old is None or new is None:
            continue
        new.group_set.add(*old.group_set.all())
        new.user_set.add(*old.user_set.all())


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0003_api_token_proxy"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("shelters", "0001_initial"),
    ]

    operations = [migrations.RunPython(copy_grants, migrations.RunPython.noop)]
