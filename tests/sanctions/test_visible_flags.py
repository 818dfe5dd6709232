"""Entity.visible and Article.visible: kept by triggers as actions are published,
unpublished, edited and deleted, and never recorded as an editor's change."""

import pytest
from django.apps import apps
from django.db.models import Exists, OuterRef

from sanctions.merge import merge_entities
from sanctions.models import Action, Article, Coverage, Designation, Entity

from .factories import make_action, make_article, make_entity

pytestmark = pytest.mark.django_db


def _visible(entity: Entity) -> bool:
    return Entity.objects.filter(pk=entity.pk, visible=True).exists()


def _article_visible(article: Article) -> bool:
    return Article.objects.filter(pk=article.pk, visible=True).exists()


def test_an_entity_is_visible_while_a_published_action_names_it():
    entity = make_entity()
    draft = make_action(entities=[entity], published=False)
    assert not _visible(entity)
    draft.publish()
    assert _visible(entity)
    other = make_action(entities=[entity])
    draft.unpublish()
    assert _visible(entity), "still named in the other published action"
    Designation.objects.filter(action=other).delete()
    assert not _visible(entity)

    moved_to = make_entity()
    draft.publish()
    Designation.objects.filter(action=draft).update(entity=moved_to)  # as a merge moves them
    assert not _visible(entity) and _visible(moved_to)
    draft.delete()
    assert not _visible(moved_to)
    assert list(Entity.objects.visible()) == []


def test_an_article_is_visible_while_it_covers_a_published_action():
    action = make_action(published=False)
    article = make_article(actions=[action])
    assert not _article_visible(article)
    action.publish()
    assert _article_visible(article)
    Coverage.objects.filter(article=article).delete()
    assert not _article_visible(article)
    Coverage.objects.create(action=action, article=article)
    assert _article_visible(article)
    action.unpublish()
    assert not _article_visible(article)


def test_visibility_is_not_an_editors_change_in_history():
    entity = make_entity()
    events = apps.get_model("sanctions", "EntityEvent").objects
    before = events.filter(pgh_obj=entity).count()
    action = make_action(entities=[entity])
    action.unpublish()
    assert events.filter(pgh_obj=entity).count() == before


def _drift() -> dict[str, set[int]]:
    """Rows whose flag differs from its definition (an EXISTS over published links)."""
    named = Exists(Designation.objects.published().filter(entity=OuterRef("pk")))
    covered = Exists(Coverage.objects.published().filter(article=OuterRef("pk")))
    return {
        "entities": set(
            Entity.objects.annotate(named=named).exclude(visible=named).values_list("pk", flat=True)
        ),
        "articles": set(
            Article.objects.annotate(covered=covered)
            .exclude(visible=covered)
            .values_list("pk", flat=True)
        ),
    }


def test_the_flags_match_their_definition_through_a_records_life(demo_record):
    assert _drift() == {"entities": set(), "articles": set()}
    for action in Action.objects.published()[:5]:
        action.unpublish()
    assert _drift() == {"entities": set(), "articles": set()}
    survivor, loser = Entity.objects.visible().order_by("pk")[:2]
    merge_entities(survivor=survivor, loser=loser)
    Action.objects.filter(status="published").first().delete()
    assert _drift() == {"entities": set(), "articles": set()}
