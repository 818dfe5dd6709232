"""The migrations make the schema the first rounds' migrations made step by step.

``schema.txt`` beside this file describes a migrated database: every table's columns,
constraints, indexes and triggers, the functions, the extensions and the editor groups.
It was first written from the database that the nineteen migrations of the first rounds
(0001_initial to 0019_change_log_triggers), applied one by one, had made. The three
files they were squashed into make the same database, less three functions that
pgtrigger had left behind when their triggers were removed (the old ``*_action_document``
triggers). The test database is migrated from zero; the test compares the two.

A new migration that changes the schema on purpose changes the description too:
``SCHEMA_WRITE=1 pytest tests/sanctions/test_migrations.py`` writes it again, and the
diff of schema.txt shows reviewers what the migration does to the database.
"""

import difflib
import os
from pathlib import Path

import pytest
from django.db import connection

from sanctions.sql import FUNCTIONS

pytestmark = pytest.mark.django_db

DESCRIPTION = Path(__file__).with_name("schema.txt")

# Each part of the description: a heading and the query listing it, one row a line.
# Columns are sorted by name: a column added by a later migration sits at the end of
# its table, where a squashed CREATE TABLE puts it in the model's order.
PARTS = {
    "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
    "columns": """
        SELECT c.table_name, c.column_name, c.data_type, c.udt_name,
               c.character_maximum_length, c.is_nullable, c.column_default,
               c.is_identity, c.identity_generation, c.is_generated, c.generation_expression
          FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
         ORDER BY 1, 2
    """,
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
          FROM pg_constraint
         WHERE connamespace = 'public'::regnamespace AND conrelid <> 0
         ORDER BY 1, 2
    """,
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
         WHERE schemaname = 'public' ORDER BY 1, 2
    """,
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
          FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2
    """,
    # Functions of the project and of pgtrigger and pghistory (not those of extensions),
    # by a digest of their definition: test_sql.py shows the project's own in full.
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid),
               md5(pg_get_functiondef(p.oid))
          FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace
           AND NOT EXISTS (SELECT FROM pg_depend d
                            WHERE d.objid = p.oid AND d.deptype = 'e')
         ORDER BY 1, 2
    """,
    "groups": """
        SELECT g.name, string_agg(ct.app_label || '.' || p.codename, ' '
                          ORDER BY ct.app_label, p.codename)
          FROM auth_group g
          JOIN auth_group_permissions gp ON gp.group_id = g.id
          JOIN auth_permission p ON p.id = gp.permission_id
          JOIN django_content_type ct ON ct.id = p.content_type_id
         GROUP BY g.name ORDER BY 1
    """,
}


def describe_schema() -> str:
    lines = []
    with connection.cursor() as cursor:
        for heading, query in PARTS.items():
            lines.append(f"# {heading}")
            cursor.execute(query)
            lines += [" | ".join(str(value) for value in row) for row in cursor.fetchall()]
    return "\n".join(lines) + "\n"


def test_the_migrated_database_is_the_schema_the_migrations_made_step_by_step():
    described = describe_schema()
    if os.environ.get("SCHEMA_WRITE"):
        DESCRIPTION.write_text(described)

    expected = DESCRIPTION.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            described.splitlines(keepends=True),
            "schema.txt",
            "migrated",
        )
    )
    # 0001 creates the functions from sql.py as it is now; a database migrated before a
    # change keeps the old body unless a migration creates it again.
    hint = (
        "\nA function of sql.py changed: add a migration running its"
        " FUNCTIONS[name].create(), then write schema.txt again."
        if any(line[1:].split(" | ")[0] in FUNCTIONS for line in diff.splitlines())
        else ""
    )
    assert not diff, diff + hint


def test_the_change_logs_start_with_the_record_as_it_stands():
    """The data the migrations add: the first versions of both change logs (every
    process reads its index whole, every cache starts afresh)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sanctions_publicchange")
        assert cursor.fetchone()[0] >= 1
        cursor.execute("SELECT count(*) FROM sanctions_actionschange WHERE actions IS NULL")
        assert cursor.fetchone()[0] >= 1


def test_the_cache_table_is_made_even_when_redis_holds_the_cache(settings):
    """A deployment migrated with CACHE_URL set may drop it later: its rate limits then
    count in the table, which must exist."""
    import importlib

    initial_data = importlib.import_module("sanctions.migrations.0003_initial_data")
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"},
    }
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {settings.CACHE_TABLE}")  # rolled back after the test
    with connection.schema_editor() as schema_editor:
        initial_data.create_cache_table(None, schema_editor)
    assert settings.CACHE_TABLE in connection.introspection.table_names()
