"""The current definition of every SQL function of the tracker's database.

Migrations created these over time (0004, 0006, 0007, 0009, 0013, 0017, 0018), each
replacing an earlier version; this module says what each is now, in one place, and
tests/sanctions/test_sql.py fails when a migrated database differs from it: a function
changed here without a migration, or by a migration without changing it here. A new
migration changing a function takes its SQL from ``FUNCTIONS[name].create()``.
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
            # Trigger: log the actions a statement touched (ActionsChange), for the list index.
            name="sanctions_record_actions_change",
            arguments="",
            returns="trigger",
            language="plpgsql",
            volatility="VOLATILE",
            parallel="UNSAFE",
            body="""
DECLARE
    key text := TG_ARGV[0];
    ids bigint[];
    change bigint;
BEGIN
    IF key = 'all' OR TG_OP = 'TRUNCATE' THEN
        ids := NULL;
    ELSIF key = 'names' THEN
        ids := '{}';
    ELSE
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(DISTINCT (to_jsonb(r) ->> key)::bigint) INTO ids FROM new_rows r;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(DISTINCT (to_jsonb(r) ->> key)::bigint) INTO ids FROM old_rows r;
        ELSE
            WITH changed AS (
                SELECT to_jsonb(o) AS before, to_jsonb(n) AS after
                  FROM old_rows o JOIN new_rows n ON o.id = n.id
                 WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
            ), states AS (
                SELECT before AS row FROM changed UNION ALL SELECT after FROM changed
            )
            SELECT array_agg(DISTINCT (row ->> key)::bigint) INTO ids FROM states;
        END IF;
        IF ids IS NULL THEN  -- no row written, or none really changed
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO sanctions_actionschange (actions) VALUES (ids) RETURNING id INTO change;
    IF change % 1000 = 0 THEN
        DELETE FROM sanctions_actionschange WHERE id < change - 1000;
    END IF;
    RETURN NULL;
END
""",
        ),
        Function(
            # Trigger: log a write to what the public sees (PublicChange), the record's version.
            name="sanctions_record_public_change",
            arguments="",
            returns="trigger",
            language="plpgsql",
            volatility="VOLATILE",
            parallel="UNSAFE",
            body="""
DECLARE
    kind text := TG_ARGV[0];
    key text := TG_ARGV[1];
    ids bigint[];
    statuses text[];
BEGIN
    -- The rows the statement wrote, from its transition tables; of an update, only the
    -- rows that really changed (link checks rewrite rows to the same values).
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg((to_jsonb(r) ->> key)::bigint), array_agg(to_jsonb(r) ->> 'status')
          INTO ids, statuses FROM new_rows r;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg((to_jsonb(r) ->> key)::bigint), array_agg(to_jsonb(r) ->> 'status')
          INTO ids, statuses FROM old_rows r;
    ELSE
        WITH changed AS (
            SELECT to_jsonb(o) AS before, to_jsonb(n) AS after
              FROM old_rows o JOIN new_rows n ON to_jsonb(o) ->> 'id' = to_jsonb(n) ->> 'id'
             WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
        ), states AS (
            SELECT before AS row FROM changed UNION ALL SELECT after FROM changed
        )
        SELECT array_agg((row ->> key)::bigint), array_agg(row ->> 'status')
          INTO ids, statuses FROM states;
    END IF;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    IF (kind = 'action' AND 'published' = ANY(statuses))
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
    RETURN NULL;
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
        Function(
            # Recompute Article.visible for these articles.
            name="sanctions_refresh_visible_articles",
            arguments="ids bigint[]",
            returns="void",
            language="sql",
            volatility="VOLATILE",
            parallel="UNSAFE",
            body="""
    UPDATE sanctions_article r SET visible = now.visible
      FROM (SELECT i.id, EXISTS (SELECT FROM sanctions_coverage x JOIN sanctions_action a ON a.id = x.action_id WHERE x.article_id = i.id AND a.status = 'published') AS visible
              FROM unnest(ids) AS i(id)) now
     WHERE r.id = now.id AND r.visible IS DISTINCT FROM now.visible;
""",
        ),
        Function(
            # Recompute Entity.visible for these entities.
            name="sanctions_refresh_visible_entities",
            arguments="ids bigint[]",
            returns="void",
            language="sql",
            volatility="VOLATILE",
            parallel="UNSAFE",
            body="""
    UPDATE sanctions_entity r SET visible = now.visible
      FROM (SELECT i.id, EXISTS (SELECT FROM sanctions_designation x JOIN sanctions_action a ON a.id = x.action_id WHERE x.entity_id = i.id AND a.status = 'published') AS visible
              FROM unnest(ids) AS i(id)) now
     WHERE r.id = now.id AND r.visible IS DISTINCT FROM now.visible;
""",
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
