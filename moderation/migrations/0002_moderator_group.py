"""Create the "moderator" group with its permissions (see moderation/permissions.py)."""

from django.db import migrations


def create_group(apps, schema_editor):
    from moderation.permissions import ensure_moderator_group

    ensure_moderator_group(apps)


def delete_group(apps, schema_editor):
    from moderation.permissions import MODERATOR_GROUP

    apps.get_model("auth", "Group").objects.filter(name=MODERATOR_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("moderation", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
