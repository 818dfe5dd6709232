"""sanctions/sql.py says what every SQL function of a migrated database is."""

import pytest
from django.db import connection

from sanctions.sql import FUNCTIONS

pytestmark = pytest.mark.django_db

VOLATILITY = {"i": "IMMUTABLE", "s": "STABLE", "v": "VOLATILE"}
PARALLEL = {"s": "SAFE", "r": "RESTRICTED", "u": "UNSAFE"}


def migrated_functions() -> dict[str, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            r"""
            SELECT p.proname, pg_get_function_identity_arguments(p.oid),
                   pg_get_function_result(p.oid), l.lanname, p.provolatile, p.proparallel,
                   p.prosrc
              FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.proname LIKE 'sanctions\_%'
            """
        )
        return {
            name: (arguments, returns, language, VOLATILITY[vol], PARALLEL[par], body)
            for name, arguments, returns, language, vol, par, body in cursor.fetchall()
        }


def test_every_function_of_the_migrated_database_is_as_sql_py_defines_it():
    migrated = migrated_functions()

    assert set(migrated) == set(FUNCTIONS)
    for name, function in FUNCTIONS.items():
        defined = (
            function.arguments,
            function.returns,
            function.language,
            function.volatility,
            function.parallel,
            function.body,
        )
        assert migrated[name] == defined, name


def test_a_definition_creates_the_function_it_describes():
    """create() gives SQL that, run, leaves the function as described."""
    function = FUNCTIONS["sanctions_word_forms"]
    with connection.cursor() as cursor:
        cursor.execute(function.create())
        cursor.execute("SELECT sanctions_word_forms('nuclear')")
        forms = cursor.fetchone()[0]

    assert migrated_functions()["sanctions_word_forms"][-1] == function.body
    assert {"nuclear", "uclear", "nulear", "nuclar"} <= set(forms)
