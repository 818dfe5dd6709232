"""Create the editor and reviewer groups.

Editors enter and edit drafts; reviewers may also publish and unpublish.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Models editors curate; the parts of an action or entity may also be deleted.
CURATED = ["action", "entity", "authority", "legalbasis", "program", "outlet", "article"]
PARTS = ["alias", "identifier", "relation", "designation", "source", "coverage"]


def editor_codenames():
    codenames = []
    for model in CURATED:
        codenames += [f"add_{model}", f"change_{model}", f"view_{model}"]
    for model in PARTS:
        codenames += [f"add_{model}", f"change_{model}", f"delete_{model}", f"view_{model}"]
    return codenames


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editor_perms = Permission.objects.filter(
        content_type__app_label="sanctions", codename__in=editor_codenames()
    )
    editor, _ = Group.objects.get_or_create(name="editor")
    editor.permissions.set(editor_perms)
    reviewer, _ = Group.objects.get_or_create(name="reviewer")
    reviewer.permissions.set(
        list(editor_perms)
        + list(
            Permission.objects.filter(
                content_type__app_label="sanctions", codename="publish_action"
            )
        )
    )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["editor", "reviewer"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sanctions", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
