"""The name search tables: every entity name as search keys, and their words."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Func

from .common import actions_change_all_trigger
from .entities import Entity


class EntityName(models.Model):
    """One searchable name of an entity, its primary name or an alias, with its name key.

    Derived from Entity.name and Alias.name by ``sanctions.search.index_names``: the key
    is a Python transliteration (``sanctions.search.name_key``) that SQL cannot compute.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="search_names")
    name = models.TextField()
    key = models.TextField()
    # The key's words, for the inverted index that name search intersects.
    words = models.GeneratedField(
        expression=Func("key", models.Value(" "), function="string_to_array"),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
    )
    is_primary = models.BooleanField(default=False)

    class Meta:
        # Entities' names are what text queries of the lists match.
        triggers = [actions_change_all_trigger("'{}'")]
        constraints = [
            models.UniqueConstraint(fields=["entity", "name"], name="entityname_unique"),
        ]
        indexes = [
            # Names having all of some words: GIN intersects the words' posting lists.
            GinIndex(fields=["words"], name="entityname_words"),
            # Exact and prefix matches of the whole key.
            models.Index(
                fields=["key"], name="entityname_key_prefix", opclasses=["text_pattern_ops"]
            ),
        ]

    def __str__(self):
        return self.name


class NameWord(models.Model):
    """A word of some name key: the vocabulary a query's words are matched against,
    allowing for one wrong, missing or extra letter, before names are looked up.

    ``forms`` holds the word and, from five letters, the word with each one letter left
    out (sanctions_word_forms in sql.py): two such words one letter apart share a
    form. Filled by ``sanctions.search.index_names``.
    """

    word = models.TextField(primary_key=True)
    forms = models.GeneratedField(
        expression=Func("word", function="sanctions_word_forms"),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
    )

    class Meta:
        indexes = [
            # One index for exact words and those one letter off alike: an OR of two
            # indexes lets the planner pick the trigram one for equality, slowly.
            GinIndex(fields=["forms"], name="nameword_forms"),
            # Misspellings further off than one letter, when nothing closer is known.
            GinIndex(OpClass("word", name="gin_trgm_ops"), name="nameword_trgm"),
            # Prefixes use the primary key's own text_pattern_ops index.
        ]

    def __str__(self):
        return self.word
