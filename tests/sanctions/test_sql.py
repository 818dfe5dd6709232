"""sanctions/sql.py says what every SQL function of a migrated database is."""

import pytest
from django.db import connection
from django.db.models import Q

from sanctions.models import Article, Entity
from sanctions.sql import FUNCTIONS, REFRESH_ALL_VISIBLE

from .factories import make_action, make_article, make_entity

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


def test_refreshing_all_visible_flags_at_once_gives_what_the_functions_give():
    shown, drafted, unnamed = make_entity(), make_entity(), make_entity()
    published = make_action(entities=[shown])
    draft = make_action(entities=[drafted], published=False)
    for actions in ([published], [draft], []):
        make_article(actions=actions)

    def flags():
        return sorted(Entity.objects.values_list("pk", "visible")) + sorted(
            Article.objects.values_list("pk", "visible")
        )

    def scramble():  # every flag wrong
        Entity.objects.update(visible=Q(pk__in=[drafted.pk, unnamed.pk]))
        Article.objects.update(visible=True)

    with connection.cursor() as cursor:
        scramble()
        cursor.execute(
            "SELECT sanctions_refresh_visible_entities(ARRAY(SELECT id FROM sanctions_entity)),"
            " sanctions_refresh_visible_articles(ARRAY(SELECT id FROM sanctions_article))"
        )
        by_functions = flags()
        scramble()
        cursor.execute(REFRESH_ALL_VISIBLE)

    assert flags() == by_functions
    assert dict(Entity.objects.values_list("pk", "visible")) == {
        shown.pk: True,
        drafted.pk: False,
        unnamed.pk: False,
    }
