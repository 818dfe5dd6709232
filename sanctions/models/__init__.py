"""The tracker's records: actions, the entities they concern, and their sources.

The unit of record is the Action: one announcement by one authority on one
date. An entity's status on any date is derived from its actions
(``Entity.status_on``), never stored.

The models are in modules by domain; every name is re-exported here, so
``from sanctions.models import Action`` works wherever it is written.
"""

# In this order: each module imports the ones before it at its top, and those after it
# (for use inside methods) at its end.
# ruff: noqa: I001

from .common import (  # noqa: F401
    _REFRESH_ACTION,
    _one_of,
    actions_change_all_trigger,
    actions_change_triggers,
    count_of,
    public_change_triggers,
    refresh_action_trigger,
    refresh_visible_trigger,
    track_history,
)
from .reference import (  # noqa: F401
    ActionKind,
    ActionStatus,
    Authority,
    AuthorityQuerySet,
    DesignationRole,
    Effect,
    Jurisdiction,
    LIFTING_KINDS,
    LISTING_KINDS,
    LegalBasis,
    LegalBasisQuerySet,
    Program,
    ProgramQuerySet,
    ReferenceQuerySet,
    Regime,
    UNSHOWN_ACTION_FIELDS,
    UNSHOWN_ARTICLE_FIELDS,
    UNSHOWN_ENTITY_FIELDS,
    designation_effect,
)
from .entities import (  # noqa: F401
    Alias,
    AliasKind,
    Entity,
    EntityKind,
    EntityMerge,
    EntityQuerySet,
    ExactJSONEncoder,
    Identifier,
    IdentifierScheme,
    LIST_NUMBER_SCHEMES,
    Relation,
    RelationKind,
    Script,
    StatusHistory,
    StatusLine,
    _SCRIPT_PREFIXES,
    _end,
    detect_script,
    status_date,
)
from .names import (  # noqa: F401
    EntityName,
    NameWord,
)
from .actions import (  # noqa: F401
    Action,
    ActionLegalBasis,
    ActionOtherAuthority,
    ActionPartQuerySet,
    ActionProgram,
    ActionQuerySet,
    ActionsChange,
    Designation,
    EDITOR_ONLY_FIELDS,
    IncompleteAction,
    LINK_STATUS_FIELDS,
    LinkStatus,
    PublicChange,
    Source,
    SourceKind,
    is_partial,
    legal_basis_names,
    recorded_entities,
    shown_publicly,
)
from .coverage import (  # noqa: F401
    Article,
    ArticleEntity,
    ArticleQuerySet,
    Coverage,
    CoverageRelation,
    FetchJob,
    FetchJobQuerySet,
    FetchStatus,
    LinkCheck,
    Outlet,
    OutletQuerySet,
    Snapshot,
    SnapshotQuerySet,
    Suggestion,
    SuggestionStatus,
    archived_copies,
    site_of,
)
from .lists import (  # noqa: F401
    ChangeKind,
    ImportRun,
    ImportRunQuerySet,
    ImportStatus,
    ListChange,
    ListEntry,
    ListName,
    ProposedAction,
)
from .alerts import (  # noqa: F401
    ALERT_CONFIRM_DAYS,
    ALERT_QUERY_MAX_LENGTH,
    AlertDelivery,
    AlertFrequency,
    DeliveryState,
    Subscription,
    SubscriptionQuerySet,
    new_alert_token,
)
