"""The current definition of every SQL function of the tracker's database.

The migrations create them from here (``FUNCTIONS[name].create()``). A function is
changed by changing it here and adding a migration that runs its ``create()``, for the
databases migrated before. tests/sanctions/test_sql.py fails when a migration leaves a
function other than this module says; tests/sanctions/test_migrations.py when a
function here changes (its digest in schema.txt), and says to add that migration.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Function:
    name: str
    arguments: str  # as pg_get_function_identity_arguments() gives them
    returns: str
    language: str
    volatility: str
    parallel: str
    body: str  # verbatim, as pg_proc.prosrc holds it

    def create(self) -> str:
        """CREATE OR REPLACE FUNCTION for this definition."""
        return (
            f"CREATE OR REPLACE FUNCTION {self.name}({self.arguments}) RETURNS {self.returns}"
            f" LANGUAGE {self.language} {self.volatility} PARALLEL {self.parallel}"
            f" AS $function${self.body}$function$;"
        )


# A row a published action shows (Entity.visible, Article.visible): (model, plural,
# the table of the links naming it in actions, the link's column). An entity is visible
# while a designation of a published action names it, an article while it covers one.
VISIBLE_FLAGS = [
    ("entity", "entities", "sanctions_designation", "entity_id"),
    ("article", "articles", "sanctions_coverage", "article_id"),
]


def _shown(link: str, column: str, row: str) -> str:
    return (
        f"EXISTS (SELECT FROM {link} x JOIN sanctions_action a ON a.id = x.action_id"
        f" WHERE x.{column} = {row} AND a.status = 'published')"
    )


FUNCTIONS = {
    function.name: function
    for function in [
        Function(
            # An action's countries: its subject countries and its entities' (Action.countries).
            name="sanctions_action_countries",
            arguments="target bigint, subject character varying[]",
            returns="character varying[]",
            language="sql",
            volatility="STABLE",
            parallel="UNSAFE",
            body="""
    SELECT coalesce(array_agg(DISTINCT c ORDER BY c), '{}')::varchar(2)[]
      FROM (
        SELECT unnest(subject) AS c
        UNION
        SELECT unnest(e.countries)
          FROM sanctions_designation d
          JOIN sanctions_entity e ON e.id = d.entity_id
         WHERE d.action_id = target
      ) AS all_countries
""",
        ),
        Function(
            # An action's full-text document: title, summary, reasons, sources and entity names.
            name="sanctions_action_document",
            arguments="action_id bigint, title text, summary text",
            returns="tsvector",
            language="sql",
            volatility="STABLE",
            parallel="UNSAFE",
            body="""
    SELECT setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(summary, '')), 'B')
        || setweight(to_tsvector('english', coalesce((
               SELECT string_agg(concat_ws(' ', d.name_as_listed, d.reason), ' ')
                 FROM sanctions_designation d WHERE d.action_id = $1), '')), 'C')
        || setweight(to_tsvector('english', coalesce((
               SELECT string_agg(s.title, ' ')
                 FROM sanctions_source s WHERE s.action_id = $1), '')), 'C')
""",
        ),
        Function(
            # Log the actions a statement touched (ActionsChange), for the list index;
            # NULL: everything, '{}': only entities' names. Called by the statement
            # triggers of models/common.py, actions_change_triggers.
            name="sanctions_note_actions_change",
            arguments="ids bigint[]",
            returns="void",
            language="plpgsql",
            volatility="VOLATILE",
            parallel="UNSAFE",
            body="""
DECLARE
    change bigint;
BEGIN
    INSERT INTO sanctions_actionschange (actions) VALUES (ids) RETURNING id INTO change;
    IF change % 1000 = 0 THEN
        DELETE FROM sanctions_actionschange WHERE id < change - 1000;
    END IF;
END
""",
        ),
        Function(
            # Log a write to what the public sees (PublicChange, the record's version)
            # when the rows written (ids, of the kind a published action may show)
            # touch a published action. Called by the statement triggers of
            # models/common.py, public_change_triggers.
            name="sanctions_note_public_change",
            arguments="kind text, ids bigint[]",
            returns="void",
            language="plpgsql",
            volatility="VOLATILE",
            parallel="UNSAFE",
            body="""
BEGIN
    IF cardinality(ids) = 0 THEN  -- no row written, or none really changed
        RETURN;
    END IF;
    IF kind = 'action'  -- ids: the rows published, or being unpublished
    OR (kind = 'part' AND EXISTS (
        SELECT FROM sanctions_action a WHERE a.id = ANY(ids) AND a.status = 'published'))
    OR (kind = 'entity' AND EXISTS (
        SELECT FROM sanctions_designation d JOIN sanctions_action a ON a.id = d.action_id
        WHERE d.entity_id = ANY(ids) AND a.status = 'published'))
    OR (kind = 'article' AND EXISTS (
        SELECT FROM sanctions_coverage c JOIN sanctions_action a ON a.id = c.action_id
        WHERE c.article_id = ANY(ids) AND a.status = 'published'))
    OR (kind = 'outlet' AND EXISTS (
        SELECT FROM sanctions_article r
        JOIN sanctions_coverage c ON c.article_id = r.id
        JOIN sanctions_action a ON a.id = c.action_id
        WHERE r.outlet_id = ANY(ids) AND a.status = 'published'))
    OR (kind = 'authority' AND (
        EXISTS (SELECT FROM sanctions_action a
                WHERE a.authority_id = ANY(ids) AND a.status = 'published')
        OR EXISTS (SELECT FROM sanctions_action_other_authorities x
                   JOIN sanctions_action a ON a.id = x.action_id
                   WHERE x.authority_id = ANY(ids) AND a.status = 'published')))
    OR (kind = 'legalbasis' AND (
        EXISTS (SELECT FROM sanctions_action_legal_bases x
                JOIN sanctions_action a ON a.id = x.action_id
                WHERE x.legalbasis_id = ANY(ids) AND a.status = 'published')
        OR EXISTS (SELECT FROM sanctions_designation d
                   JOIN sanctions_action a ON a.id = d.action_id
                   WHERE d.legal_basis_id = ANY(ids) AND a.status = 'published')))
    OR (kind = 'program' AND EXISTS (
        SELECT FROM sanctions_action_programs x JOIN sanctions_action a ON a.id = x.action_id
        WHERE x.program_id = ANY(ids) AND a.status = 'published'))
    THEN
        INSERT INTO sanctions_publicchange DEFAULT VALUES;
    END IF;
END
""",
        ),
        Function(
            # Recompute an action's derived columns (search document, countries).
            name="sanctions_refresh_action",
            arguments="target bigint",
            returns="void",
            language="sql",
            volatility="VOLATILE",
            parallel="UNSAFE",
            body="""
    UPDATE sanctions_action a
       SET search_vector = sanctions_action_document(a.id, a.title, a.summary),
           countries = sanctions_action_countries(a.id, a.subject_countries)
     WHERE a.id = target
""",
        ),
        *(
            Function(
                # Recompute Entity.visible or Article.visible for these rows; rows
                # already right are not written (no history, no public change).
                name=f"sanctions_refresh_visible_{plural}",
                arguments="ids bigint[]",
                returns="void",
                language="sql",
                volatility="VOLATILE",
                parallel="UNSAFE",
                body=f"""
    UPDATE sanctions_{name} r SET visible = now.visible
      FROM (SELECT i.id, {_shown(link, column, "i.id")} AS visible
              FROM unnest(ids) AS i(id)) now
     WHERE r.id = now.id AND r.visible IS DISTINCT FROM now.visible;
""",
            )
            for name, plural, link, column in VISIBLE_FLAGS
        ),
        Function(
            # A word and, from five letters, the word less each one letter (NameWord.forms).
            name="sanctions_word_forms",
            arguments="word text",
            returns="text[]",
            language="sql",
            volatility="IMMUTABLE",
            parallel="SAFE",
            body="""
    SELECT ARRAY[word] || CASE WHEN length(word) < 5 THEN '{}'::text[] ELSE ARRAY(
        SELECT DISTINCT overlay(word PLACING '' FROM i FOR 1)
          FROM generate_series(1, length(word)) AS i
    ) END
""",
        ),
    ]
}


# The same rule over whole tables in one pass each, for a bulk load made with the
# triggers off (bench/generate.py): passing every id to the functions looks the rows up
# one by one. tests/sanctions/test_sql.py shows that both give the same flags.
REFRESH_ALL_VISIBLE = "".join(
    f"UPDATE sanctions_{name} r SET visible = {_shown(link, column, 'r.id')};\n"
    for name, _, link, column in VISIBLE_FLAGS
)
