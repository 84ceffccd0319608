"""Qserv's restrictors ``qserv_areaspec_box/circle/ellipse/poly`` rewritten into row predicates (pure).

In Qserv SQL an areaspec names no columns: it restricts the director table of the query. Here it
must be a top-level WHERE conjunct with constant arguments, in a SELECT reading a table with a
position, and becomes ``scisql_s2PtInBox|Circle|Ellipse|CPoly(<ra>, <dec>, <arguments>) = 1`` on
every director table instance of its FROM clause (both sides of a self join, as Qserv's restrictor
does), or, with no director there, on the first table with its own position.
The planner then sees an ordinary point-in-region conjunct, which both prunes chunks and filters
rows. Anything else is refused with ``UnsupportedQueryError``.
"""

from sqlglot import exp

from qserv.errors import UnsupportedQueryError
from qserv.query.conjuncts import top_level_conjuncts
from qserv.query.joins import source_tables, table_key
from qserv.query.restrictors import constant
from qserv.sql.adql import AREASPECS, is_call

_PREDICATES = {
    "QSERV_AREASPEC_BOX": "scisql_s2PtInBox",
    "QSERV_AREASPEC_CIRCLE": "scisql_s2PtInCircle",
    "QSERV_AREASPEC_ELLIPSE": "scisql_s2PtInEllipse",
    "QSERV_AREASPEC_POLY": "scisql_s2PtInCPoly",
}


def _restricted_aliases(select, tables):
    """(alias, TableInfo) of every director table instance of the SELECT, else of its first
    table with its own position (none: an empty list)."""
    sources = [(alias, tables.get(table_key(table))) for alias, table in source_tables(select) or []]
    positioned = [(alias, info) for alias, info in sources if info is not None and info.position]
    directors = [entry for entry in positioned if entry[1].kind == "director"]
    return directors or positioned[:1]


def _areaspec_of(conjunct):
    if is_call(conjunct, *AREASPECS):
        return conjunct
    if isinstance(conjunct, exp.EQ):
        for call, one in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
            if is_call(call, *AREASPECS) and constant(one) == 1.0:
                return call
    return None


_ARGUMENTS = {"QSERV_AREASPEC_BOX": "4", "QSERV_AREASPEC_CIRCLE": "3", "QSERV_AREASPEC_ELLIPSE": "5"}


def _predicate(call, alias, info):
    name = call.name.upper()
    count = len(call.expressions)
    wanted = _ARGUMENTS.get(name)
    if (wanted and count != int(wanted)) or (wanted is None and (count < 6 or count % 2)):
        raise UnsupportedQueryError(
            f"{name.lower()}(...) takes {wanted or 'an even number (at least 6) of'} arguments, got {count}")
    if any(constant(arg) is None for arg in call.expressions):
        raise UnsupportedQueryError(f"{name.lower()}(...) takes numeric constants only")
    ra, dec = (exp.column(exp.to_identifier(c, quoted=True), table=exp.to_identifier(alias, quoted=True))
               for c in info.position)
    test = exp.Anonymous(this=_PREDICATES[name], expressions=[ra, dec, *(a.copy() for a in call.expressions)])
    return exp.EQ(this=test, expression=exp.Literal.number(1))


def _rewrite_select(select, tables):
    where = select.args.get("where")
    if where is not None:
        for conjunct in list(top_level_conjuncts(where.this)):
            call = _areaspec_of(conjunct)
            if call is None:
                continue
            found = _restricted_aliases(select, tables)
            if not found:
                raise UnsupportedQueryError(
                    f"{call.name.lower()}(...) needs a director table (a table with a position) "
                    "in the FROM clause")
            predicate = exp.and_(*(_predicate(call, *entry) for entry in found), copy=False)
            if conjunct is where.this:
                where.set("this", predicate)
            else:
                conjunct.replace(predicate)


def rewrite_areaspecs(tree, tables):
    """``tree`` (resolved; changed in place and returned) with every areaspec made a predicate.
    ``tables`` maps "db.table" to TableInfo."""
    for select in list(tree.find_all(exp.Select)):
        _rewrite_select(select, tables)
    for node in tree.walk():
        if is_call(node, *AREASPECS):
            raise UnsupportedQueryError(
                f"{node.name.lower()}(...) must be a top-level condition of the WHERE clause "
                "(AND-ed with the others, not under OR or NOT)")
    return tree
