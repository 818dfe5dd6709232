"""Entity.visible and Article.visible: kept by triggers as actions are published,
unpublished, edited and deleted, and never recorded as an editor's change."""

import pytest
from django.apps import apps

from sanctions.models import Article, Coverage, Designation, Entity

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
