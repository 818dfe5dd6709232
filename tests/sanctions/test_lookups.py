"""field__any (sanctions/lookups.py): what __in selects, the values as one parameter."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sanctions.models import Designation, LegalBasis

from .factories import make_action, make_entity, make_legal_basis

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("model", "lookup"),
    [(Designation, "action"), (Designation, "action_id"), (LegalBasis, "actions")],
)
def test_any_selects_what_in_selects_with_one_parameter(model, lookup):
    actions = [
        make_action(entities=[make_entity(), make_entity()], legal_bases=[make_legal_basis()])
        for _ in range(3)
    ]
    make_action(entities=[make_entity()], legal_bases=[make_legal_basis()])  # not asked for
    ids = [action.pk for action in actions]

    with CaptureQueriesContext(connection) as queries:
        chosen = sorted(
            model.objects.filter(**{f"{lookup}__any": ids}).values_list("pk", flat=True)
        )

    assert chosen == sorted(
        model.objects.filter(**{f"{lookup}__in": ids}).values_list("pk", flat=True)
    )
    assert len(chosen) >= 3
    assert "= ANY(" in queries[0]["sql"]


def test_any_of_nothing_reads_nothing_and_a_string_is_refused():
    make_action(entities=[make_entity()])

    with CaptureQueriesContext(connection) as queries:
        assert list(Designation.objects.filter(action__any=[])) == []

    assert len(queries) == 0
    with pytest.raises(TypeError, match="not a string"):
        Designation.objects.filter(action__any="12").count()
