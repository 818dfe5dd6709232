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


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RunSQL(CREATE, DROP),
    ]
