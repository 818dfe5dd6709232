"""What the tracker starts with: the editor and reviewer groups, the cache table, and
the first version of each change log."""

from django.contrib.auth.management import create_permissions
from django.conf import settings
from django.core.management.commands import createcachetable
from django.db import migrations

# Editors enter and edit drafts of the records they curate, and may delete an action's
# or an entity's parts; they paste URLs (fetch jobs), read the archive and the link
# checks, and accept or dismiss suggestions. Reviewers may also publish and unpublish.
CURATED = ["action", "entity", "authority", "legalbasis", "program", "outlet", "article"]
PARTS = ["alias", "identifier", "relation", "designation", "source", "coverage"]
COVERAGE_PIPELINE = [
    "add_fetchjob",
    "view_fetchjob",
    "view_snapshot",
    "view_linkcheck",
    "view_suggestion",
    "change_suggestion",
]


def editor_codenames():
    codenames = list(COVERAGE_PIPELINE)
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
    editor_perms = list(
        Permission.objects.filter(
            content_type__app_label="sanctions", codename__in=editor_codenames()
        )
    )
    editor, _ = Group.objects.get_or_create(name="editor")
    editor.permissions.set(editor_perms)
    reviewer, _ = Group.objects.get_or_create(name="reviewer")
    reviewer.permissions.set(
        editor_perms
        + list(
            Permission.objects.filter(
                content_type__app_label="sanctions", codename="publish_action"
            )
        )
    )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["editor", "reviewer"]).delete()


def create_cache_table(apps, schema_editor):
    # The rate limits' counts live in the cache, shared by every web process: a table
    # of the database unless CACHE_URL names Redis. The table is made either way, so
    # that a deployment can drop CACHE_URL later (createcachetable alone makes only the
    # tables of the caches configured now).
    command = createcachetable.Command()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, settings.CACHE_TABLE, dry_run=False)


class Migration(migrations.Migration):
    dependencies = [
        ("sanctions", "0002_records"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_groups, remove_groups),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
        # The record as it stands is the first public state, and every process reads
        # its index of published actions whole.
        migrations.RunSQL(
            "INSERT INTO sanctions_publicchange DEFAULT VALUES;"
            " INSERT INTO sanctions_actionschange DEFAULT VALUES;",
            migrations.RunSQL.noop,
        ),
    ]
