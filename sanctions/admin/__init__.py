"""The editors' admin: enter announcements with their entities, sources and coverage.

Django's admin autodiscovery imports this package; importing each module registers its
admins with the site.
"""

from . import common, coverage, entities, lists, record
from .entities import similar_entities

__all__ = ["common", "coverage", "entities", "lists", "record", "similar_entities"]
