"""An entity's status, case by case: `Entity.status_on`, the entity page, the API and
the FtM export must give the same answer for every case and date."""

import datetime
import json
import re
from dataclasses import dataclass

import pytest

from sanctions.exports import ftm_records
from sanctions.models import (
    Action,
    ActionKind,
    Designation,
    DesignationRole,
    Entity,
    Regime,
)

from . import requires_ftm
from .factories import make_action, make_authority, make_entity

pytestmark = pytest.mark.django_db

SDN, BIS, INKSNA, MISSILE = (
    Regime.OFAC_SDN,
    Regime.BIS_ENTITY_LIST,
    Regime.INKSNA,
    Regime.MISSILE,
)
LISTED, LIFTED, EXPIRED, WAIVED = "listed", "lifted", "expired", "waived"


@dataclass
class Act:
    """One action naming the entity in the case."""

    kind: str
    day: str
    role: str = DesignationRole.LISTED
    regime: str = SDN
    effective: str | None = None
    ends: str | None = None  # the action's scheduled end
    designation_ends: str | None = None
    designation_regime: str = ""
    authority: str = "ofac"
    joint: tuple[str, ...] = ()
    published: bool = True


D = ActionKind
# case: (actions in the order they were entered, {date: {regime: (status, since)}})
CASES = {
    "listing": (
        [Act(D.DESIGNATION, "2020-01-10")],
        {"2020-01-09": {}, "2020-01-10": {SDN: (LISTED, "2020-01-10")}},
    ),
    "named, not itself listed": (
        [Act(D.ENTITY_LIST_ADDITION, "2024-10-21", role=DesignationRole.NAMED, regime=BIS)],
        {"2024-10-21": {}, "2025-01-01": {}},
    ),
    "amended entry": (
        [
            Act(D.DESIGNATION, "2020-01-10"),
            Act(D.AMENDMENT, "2021-05-01", role=DesignationRole.AMENDED),
        ],
        {"2021-06-01": {SDN: (LISTED, "2020-01-10")}},
    ),
    "delisting": (
        [
            Act(D.DESIGNATION, "2020-01-10"),
            Act(D.DELISTING, "2022-03-01", role=DesignationRole.DELISTED),
        ],
        {
            "2022-02-28": {SDN: (LISTED, "2020-01-10")},
            "2022-03-01": {SDN: (LIFTED, "2022-03-01")},
        },
    ),
    "a removed row inside a designation action lifts": (
        [
            Act(D.DESIGNATION, "2020-01-10"),
            Act(D.DESIGNATION, "2022-03-01", role=DesignationRole.DELISTED),
        ],
        {"2023-01-01": {SDN: (LIFTED, "2022-03-01")}},
    ),
    "a listed row inside a delisting action does not lift": (
        [
            Act(D.DESIGNATION, "2020-01-10"),
            Act(D.DELISTING, "2022-03-01", role=DesignationRole.LISTED),
        ],
        {"2023-01-01": {SDN: (LISTED, "2020-01-10")}},
    ),
    "re-designation": (
        [
            Act(D.DESIGNATION, "2018-01-10"),
            Act(D.DELISTING, "2019-01-10", role=DesignationRole.DELISTED),
            Act(D.DESIGNATION, "2021-01-10"),
        ],
        {
            "2020-01-01": {SDN: (LIFTED, "2019-01-10")},
            "2021-02-01": {SDN: (LISTED, "2021-01-10")},
        },
    ),
    "a second listing does not reset since": (
        [Act(D.DESIGNATION, "2018-01-10"), Act(D.RENEWAL, "2020-01-10")],
        {"2021-01-01": {SDN: (LISTED, "2018-01-10")}},
    ),
    "waiver": (
        [Act(D.DESIGNATION, "2018-01-10"), Act(D.WAIVER, "2019-06-01")],
        {
            "2019-05-31": {SDN: (LISTED, "2018-01-10")},
            "2019-06-01": {SDN: (WAIVED, "2019-06-01")},
        },
    ),
    "expiry by date (the action's)": (
        [Act(D.STATUTORY_MEASURES, "2020-03-01", regime=INKSNA, ends="2022-03-01")],
        {
            "2022-02-28": {INKSNA: (LISTED, "2020-03-01")},
            "2022-03-01": {INKSNA: (EXPIRED, "2022-03-01")},
        },
    ),
    "expiry by date (the designation's)": (
        [Act(D.DESIGNATION, "2010-01-01", designation_ends="2016-07-01")],
        {
            "2015-01-01": {SDN: (LISTED, "2010-01-01")},
            "2020-01-01": {SDN: (EXPIRED, "2016-07-01")},
        },
    ),
    "a renewal before the scheduled end extends it": (
        [
            Act(D.STATUTORY_MEASURES, "2018-01-01", regime=INKSNA, ends="2020-01-01"),
            Act(D.RENEWAL, "2019-12-01", regime=INKSNA, ends="2021-12-01"),
        ],
        {
            "2020-06-01": {INKSNA: (LISTED, "2018-01-01")},
            "2021-12-01": {INKSNA: (EXPIRED, "2021-12-01")},
        },
    ),
    "early termination": (
        [
            Act(D.STATUTORY_MEASURES, "2020-01-01", regime=INKSNA, ends="2022-01-01"),
            Act(D.EXPIRY, "2021-01-01", regime=INKSNA, role=DesignationRole.DELISTED),
        ],
        {
            "2020-12-31": {INKSNA: (LISTED, "2020-01-01")},
            "2022-06-01": {INKSNA: (EXPIRED, "2021-01-01")},
        },
    ),
    "a waived listing still ends on its scheduled end": (
        [
            Act(D.STATUTORY_MEASURES, "2020-01-01", regime=INKSNA, ends="2022-01-01"),
            Act(D.WAIVER, "2021-01-01", regime=INKSNA),
        ],
        {
            "2021-06-01": {INKSNA: (WAIVED, "2021-01-01")},
            "2022-06-01": {INKSNA: (EXPIRED, "2022-01-01")},
        },
    ),
    "a listing after a waiver lists again": (
        [
            Act(D.DESIGNATION, "2018-01-10"),
            Act(D.WAIVER, "2019-06-01"),
            Act(D.DESIGNATION, "2020-06-01"),
        ],
        {"2020-07-01": {SDN: (LISTED, "2020-06-01")}},
    ),
    "an open-ended listing outlives a later one with an end": (
        [
            Act(D.DESIGNATION, "2020-01-10"),
            Act(D.DESIGNATION, "2021-01-10", designation_ends="2023-01-10"),
        ],
        {"2024-01-01": {SDN: (LISTED, "2020-01-10")}},
    ),
    "joint action": (
        [Act(D.DESIGNATION, "2022-01-12", authority="ofac", joint=("state",))],
        {"2022-01-12": {SDN: (LISTED, "2022-01-12")}},
    ),
    "designated by State, delisted by OFAC: one listing": (
        [
            Act(D.DESIGNATION, "2019-01-10", authority="state"),
            Act(D.DELISTING, "2023-01-10", role=DesignationRole.DELISTED, authority="ofac"),
        ],
        {"2023-06-01": {SDN: (LIFTED, "2023-01-10")}},
    ),
    "two regimes at once": (
        [
            Act(D.DESIGNATION, "2023-10-20", authority="state"),
            Act(D.ENTITY_LIST_ADDITION, "2024-01-05", regime=BIS, authority="bis"),
        ],
        {
            "2023-12-01": {SDN: (LISTED, "2023-10-20")},
            "2024-02-01": {SDN: (LISTED, "2023-10-20"), BIS: (LISTED, "2024-01-05")},
        },
    ),
    "same-day listing and delisting": (
        [
            Act(D.DESIGNATION, "2021-04-01"),
            Act(D.DELISTING, "2021-04-01", role=DesignationRole.DELISTED),
        ],
        {"2021-04-01": {SDN: (LIFTED, "2021-04-01")}},
    ),
    "effective date before announcement": (
        [Act(D.ENTITY_LIST_ADDITION, "2023-03-02", regime=BIS, effective="2023-02-24")],
        {
            "2023-02-23": {},
            "2023-02-25": {BIS: (LISTED, "2023-02-24")},
        },
    ),
    "a draft is not counted": (
        [
            Act(D.DESIGNATION, "2020-01-10"),
            Act(D.DELISTING, "2021-01-10", role=DesignationRole.DELISTED, published=False),
        ],
        {"2022-01-01": {SDN: (LISTED, "2020-01-10")}},
    ),
    "a statement imposes nothing": (
        [Act(D.STATEMENT, "2024-12-19", regime="")],
        {"2025-01-01": {}},
    ),
    "a designation's own regime": (
        [Act(D.DESIGNATION, "2024-09-12", authority="state", designation_regime=MISSILE)],
        {"2024-09-12": {MISSILE: (LISTED, "2024-09-12")}},
    ),
    "removal from a list the record did not see begin": (
        [Act(D.ENTITY_LIST_REMOVAL, "2022-05-01", regime=BIS, role=DesignationRole.DELISTED)],
        {"2022-04-30": {}, "2022-05-01": {BIS: (LIFTED, "2022-05-01")}},
    ),
}


def _date(value):
    return datetime.date.fromisoformat(value) if value else None


def build(acts: list[Act]) -> Entity:
    authorities = {
        "ofac": make_authority(slug="ofac", short_name="OFAC", name="OFAC"),
        "state": make_authority(slug="state", short_name="State", name="State Department"),
        "bis": make_authority(slug="bis", short_name="BIS", name="BIS"),
    }
    entity = make_entity()
    bystander = make_entity()  # keeps the entity visible even when it is only named
    for act in acts:
        action = make_action(
            kind=act.kind,
            regime=act.regime,
            authority=authorities[act.authority],
            announced_on=_date(act.day),
            effective_on=_date(act.effective),
            ends_on=_date(act.ends),
            entities=[bystander],
            published=False,
        )
        action.other_authorities.set([authorities[slug] for slug in act.joint])
        Designation.objects.create(
            action=action,
            entity=entity,
            role=act.role,
            name_as_listed=entity.name,
            regime=act.designation_regime,
            ends_on=_date(act.designation_ends),
            position=1,
        )
        if act.published:
            action.publish()
    return entity


def expected(answer: dict) -> dict:
    return {
        regime: (status, datetime.date.fromisoformat(since))
        for regime, (status, since) in answer.items()
    }


def listed_in_ftm(records: list[dict], entity: Entity, day: datetime.date) -> bool:
    """What a reader of the FtM export concludes: a Sanction with a listing date is in
    force from its start until its end."""
    for record in records:
        props = record["properties"]
        if record["schema"] != "Sanction" or props["entity"] != [f"st-entity-{entity.pk}"]:
            continue
        if "listingDate" not in props:
            continue
        start = datetime.date.fromisoformat((props.get("startDate") or props["listingDate"])[0])
        end = props.get("endDate")
        if start <= day and (not end or day < datetime.date.fromisoformat(end[0])):
            return True
    return False


@pytest.mark.parametrize("case", CASES)
def test_status_is_the_same_on_the_model_page_and_api(client, case):
    acts, answers = CASES[case]
    entity = build(acts)

    for day, answer in answers.items():
        as_of = datetime.date.fromisoformat(day)
        want = expected(answer)

        lines = entity.status_on(as_of)
        assert {line.regime: (line.status, line.since) for line in lines} == want, day

        page = client.get(f"/entities/{entity.pk}/?as_of={day}").content.decode()
        section = page.split('id="status-heading"')[1].split("</section>")[0]
        shown = re.findall(r'class="status-(\w+)"><strong>([^<]+)</strong>', section)
        assert {label: status for status, label in shown} == {
            Regime(regime).label: status for regime, (status, _) in want.items()
        }, day
        for _, since in want.values():
            assert f'datetime="{since:%Y-%m-%d}"' in section

        api = client.get(f"/api/v1/entities/{entity.pk}/?as_of={day}").json()["status"]
        assert {line["regime"]: (line["status"], line["since"]) for line in api} == {
            regime: (status, since.isoformat()) for regime, (status, since) in want.items()
        }, day


@requires_ftm
@pytest.mark.parametrize("case", CASES)
def test_the_ftm_export_lists_the_entity_while_its_status_is_listed(case):
    acts, answers = CASES[case]
    entity = build(acts)
    records = [r for chunk in ftm_records(Action.objects.published()) for r in chunk]

    for day, answer in answers.items():
        listed = any(status == LISTED for status, _ in expected(answer).values())
        assert listed_in_ftm(records, entity, datetime.date.fromisoformat(day)) == listed, day


def test_a_joint_action_names_every_authority_on_the_page_and_in_the_api(client):
    entity = build([Act(D.DESIGNATION, "2022-01-12", authority="ofac", joint=("state",))])

    page = client.get(f"/entities/{entity.pk}/?as_of=2022-02-01").content.decode()
    assert "by OFAC and State Department" in page
    api = client.get(f"/api/v1/entities/{entity.pk}/?as_of=2022-02-01").json()
    assert api["status"][0]["authorities"] == ["ofac", "state"]


def test_the_api_refuses_a_bad_as_of_date(client):
    entity = build([Act(D.DESIGNATION, "2022-01-12")])
    response = client.get(f"/api/v1/entities/{entity.pk}/?as_of=2022-13-01")
    assert response.status_code == 400
    assert "as_of" in response.json()


@requires_ftm
def test_an_ftm_listing_carries_the_end_the_status_derives():
    entity = build(
        [
            Act(D.DESIGNATION, "2019-01-10"),
            Act(D.DELISTING, "2023-01-10", role=DesignationRole.DELISTED),
        ]
    )
    records = [r for chunk in ftm_records(Action.objects.published()) for r in chunk]
    mine = [
        r["properties"]
        for r in records
        if r["schema"] == "Sanction" and r["properties"]["entity"] == [f"st-entity-{entity.pk}"]
    ]
    listing = next(p for p in mine if "listingDate" in p)
    removal = next(p for p in mine if "listingDate" not in p)
    assert listing["endDate"] == ["2023-01-10"]
    assert removal["endDate"] == ["2023-01-10"] and removal["date"] == ["2023-01-10"]
    assert json.dumps(mine)  # plain JSON, as the export writes it


def test_measures_with_no_recorded_regime_are_kept_apart_per_authority():
    entity = build(
        [
            Act(D.DESIGNATION, "2020-01-10", authority="ofac"),
            Act(D.DELISTING, "2021-01-10", authority="bis", role=DesignationRole.DELISTED),
        ]
    )
    Action.objects.update(regime="")  # as imported from a file that names no list
    lines = entity.status_on(datetime.date(2022, 1, 1))
    assert sorted((line.regime, line.status, line.authorities[0].slug) for line in lines) == [
        (Regime.OTHER, LIFTED, "bis"),
        (Regime.OTHER, LISTED, "ofac"),
    ]
