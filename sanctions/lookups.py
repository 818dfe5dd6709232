"""``field__any=values``: ``column = ANY(%s)``, the values sent as one array parameter.

``__in`` sends each value as a parameter of its own. For the 100 ids of an API page,
Django adapts 100 parameters and psycopg, which binds them into the statement's text on
the client, parses that text anew each time (it keeps the parsed form only of statements
with at most 50 parameters): about 1 ms a query, and a page of actions reads seven.
For integer columns and foreign keys, as the API's rows read them (api_rows.py).
"""

from django.core.exceptions import EmptyResultSet
from django.db.models import ForeignObject, IntegerField, Lookup


@ForeignObject.register_lookup  # a foreign key is no IntegerField
@IntegerField.register_lookup
class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, values, connection):
        if isinstance(values, str | bytes):
            raise TypeError("__any takes a list of values, not a string")
        prepare = self.lhs.output_field.get_prep_value
        return "%s", [[prepare(value) for value in values]]

    def as_sql(self, compiler, connection):
        if not self.rhs:  # as __in: nothing is asked, so nothing is read
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
