"""Actions proposed from a list import: the changes between two runs of a list, grouped
as the list would announce them, each drafted as an action for an editor to review.
"""

from collections import defaultdict

from sanctions.models import (
    Action,
    ActionKind,
    Authority,
    ChangeKind,
    Designation,
    DesignationRole,
    ImportRun,
    Jurisdiction,
    ListChange,
    ListName,
    Program,
    Regime,
    Source,
    SourceKind,
)

# Who publishes each list; proposals are drafted under this authority.
LIST_AUTHORITIES = {
    ListName.OFAC_SDN: {
        "slug": "us-ofac",
        "name": "U.S. Department of the Treasury, Office of Foreign Assets Control",
        "short_name": "OFAC",
        "jurisdiction": Jurisdiction.US,
        "url": "https://ofac.treasury.gov/",
    },
    ListName.UN_CONSOLIDATED: {
        "slug": "un-security-council",
        "name": "United Nations Security Council",
        "short_name": "UN Security Council",
        "jurisdiction": Jurisdiction.UN,
        "url": "https://main.un.org/securitycouncil/en/content/un-sc-consolidated-list",
    },
}
LIST_AUTHORITIES[ListName.OFAC_CONSOLIDATED] = LIST_AUTHORITIES[ListName.OFAC_SDN]

# The regime each list's changes act on.
LIST_REGIMES = {
    ListName.OFAC_SDN: Regime.OFAC_SDN,
    ListName.OFAC_CONSOLIDATED: Regime.OFAC_NON_SDN,
    ListName.UN_CONSOLIDATED: Regime.UN,
}


_KINDS = {
    ChangeKind.ADDED: (ActionKind.DESIGNATION, DesignationRole.LISTED),
    ChangeKind.REMOVED: (ActionKind.DELISTING, DesignationRole.DELISTED),
    ChangeKind.PROGRAMS: (ActionKind.AMENDMENT, DesignationRole.AMENDED),
}


def propose(run: ImportRun) -> list[Action]:
    """Draft one action per group of the run's changes, as the list would announce them.

    Additions are grouped by program set and listing date (the UN list gives one; OFAC's
    date is the list's), removals by the programs they leave, program changes by the
    programs gained and lost: entries designated together carry the same tags.
    """
    groups: dict[tuple, list[ListChange]] = defaultdict(list)
    changes = run.changes.filter(action__isnull=True).select_related("entry")
    for change in changes:
        before, after = change.programs_before, change.programs_after
        if change.kind == ChangeKind.ADDED:
            key = (change.kind, tuple(after), change.entry.listed_on or run.published_on)
        elif change.kind == ChangeKind.REMOVED:
            key = (change.kind, tuple(before), run.published_on)
        else:
            gained = tuple(p for p in after if p not in before)
            lost = tuple(p for p in before if p not in after)
            key = (change.kind, gained, lost, run.published_on)
        groups[key].append(change)
    if not groups:
        return []
    authority = _authority(run.list_name)
    actions = []
    for key, members in sorted(groups.items(), key=lambda item: _group_order(item[0])):
        members.sort(key=lambda c: _number_order(c.entry.number))
        actions.append(_propose_group(run, authority, key, members))
    return actions


def _propose_group(run, authority, key, members) -> Action:
    kind, role = _KINDS[key[0]]
    codes = list(key[1] or key[2]) if key[0] == ChangeKind.PROGRAMS else list(key[1])
    action = Action.objects.create(
        title=_title(run, key, len(members))[:300],
        kind=kind,
        authority=authority,
        announced_on=key[-1] or run.published_on,
        regime=LIST_REGIMES[run.list_name],
        proposed_by=run,
        editor_notes=(
            f"Proposed by import run {run.pk} from the {run.get_list_name_display()}"
            f" ({', '.join(f['name'] for f in run.files)}). A list does not say who announced"
            " a change: attach this proposal to the announcement if it is already entered,"
            " or complete it (authority, legal basis, names as announced, sources) and"
            " publish it."
        ),
    )
    programs = [_program(code, authority) for code in codes]
    action.programs.set(programs)
    designations, seen = [], set()
    for position, change in enumerate(members):
        if change.entry.entity_id in seen:
            continue  # two entries of one entity: one designation
        seen.add(change.entry.entity_id)
        designations.append(
            Designation(
                action=action,
                entity_id=change.entry.entity_id,
                role=role,
                name_as_listed=change.name,
                position=min(position, 32767),
            )
        )
    Designation.objects.bulk_create(designations)
    Source.objects.create(
        action=action,
        kind=SourceKind.LIST_UPDATE,
        title=_source_title(run)[:500],
        publisher=authority.name,
        url=run.files[0].get("url", ""),
        published_on=run.published_on,
        notes=(
            f"Import run {run.pk}: "
            + "; ".join(f"{f['name']} (SHA-256 {f['sha256']})" for f in run.files)
        ),
    )
    ListChange.objects.filter(pk__in=[c.pk for c in members]).update(action=action)
    return action


def _title(run: ImportRun, key: tuple, count: int) -> str:
    label = run.get_list_name_display()
    entries = f"{count} entr{'y' if count == 1 else 'ies'}"
    if key[0] == ChangeKind.ADDED:
        return f"{label}: {entries} added under {', '.join(key[1]) or 'no program'}"
    if key[0] == ChangeKind.REMOVED:
        return f"{label}: {entries} removed from {', '.join(key[1]) or 'no program'}"
    gained, lost = key[1], key[2]
    parts = [
        f"gain {', '.join(gained)}" if gained else "",
        f"lose {', '.join(lost)}" if lost else "",
    ]
    return f"{label}: {entries} " + " and ".join(p for p in parts if p)


def _source_title(run: ImportRun) -> str:
    day = f" of {run.published_on:%Y-%m-%d}" if run.published_on else ""
    return f"{run.get_list_name_display()}{day}, as imported (run {run.pk})"


def _group_order(key: tuple):
    kinds = list(_KINDS)
    return (kinds.index(key[0]), str(key[-1]), key[1:-1])


def _number_order(number: str):
    return (len(number), number) if number.isdigit() else (0, number)


def _authority(list_name: str) -> Authority:
    fields = LIST_AUTHORITIES[list_name]
    authority, _ = Authority.objects.get_or_create(slug=fields["slug"], defaults=fields)
    return authority


def _program(code: str, authority: Authority) -> Program:
    program, _ = Program.objects.get_or_create(
        code=code, defaults={"name": code, "authority": authority}
    )
    return program
