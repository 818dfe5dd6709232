"""The extensions and the SQL functions the schema uses (sanctions/sql.py).

The migrations of the first rounds were squashed into these three files before the
first deployment; tests/sanctions/test_migrations.py shows that they make the schema
the nineteen files made step by step.
"""

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations

from sanctions.sql import FUNCTIONS

# The functions' bodies read tables that 0002 creates: PostgreSQL checks them when they
# are first called, not now (as pg_dump restores them).
CREATE = "SET LOCAL check_function_bodies = off;\n" + "\n".join(
    function.create() for function in FUNCTIONS.values()
)
DROP = "\n".join(
    f"DROP FUNCTION {function.name}({function.arguments});" for function in FUNCTIONS.values()
)


def refuse_a_database_of_the_old_migrations(apps, schema_editor):
    # Nothing was deployed before the squash, but a local database (var/postgres) may
    # hold the tables the old migrations made, which 0002 would fail to create.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('sanctions_action')")
        if cursor.fetchone()[0] is not None:
            raise RuntimeError(
                "this database was migrated before the migrations were squashed"
                " (December 2026): empty it (make clean-db, or drop and create it)"
                " and migrate again"
            )


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.RunPython(refuse_a_database_of_the_old_migrations, migrations.RunPython.noop),
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RunSQL(CREATE, DROP),
    ]
