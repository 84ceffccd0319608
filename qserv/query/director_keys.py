"""Director-key restrictions: the key values every result row must have (pure, no I/O).

``director_key_restrictions(tree, key_columns)`` looks only at the top-level AND-ed conjuncts of
the WHERE clause of a single SELECT (no WITH), like ``spatial_restrictors``: a comparison under OR
or NOT, in a subquery, a set operation or a join condition is not one, and is left alone.
Recognised conjuncts, ``key`` being the director-key column of a table of ``key_columns`` (a name
or alias of a table of the FROM clause -> its key column: the id column of a director table, the
director-key column of a child table):

- ``key = constant`` or ``constant = key``;
- ``key IN (constant, ...)`` (not ``NOT IN``, not ``IN (SELECT ...)``).

A constant is an integer or string literal, a number possibly negated; its Python type is kept
(int or str). A float literal is kept as a float when integral and matches nothing otherwise, as
does NULL. Several conjuncts on the same table intersect. BETWEEN and inequalities are not used
(Qserv scans those too).
"""

from dataclasses import dataclass, field

from sqlglot import exp

from qserv.query.conjuncts import identifier_matches, keys_of_from_tables, top_level_conjuncts

_NOTHING = object()  # a constant no key value equals (NULL, a non-integral number)


@dataclass(frozen=True)
class KeyRestriction:
    """``values`` holds the director key of every result row of ``table`` (a key of
    ``key_columns``); it is empty when no row can match. ``nodes`` are the WHERE conjuncts it
    comes from."""

    table: str
    values: frozenset
    nodes: tuple = field(repr=False)


def _value(node):
    """The key value of a constant, _NOTHING for one no key equals, or None if not a constant."""
    if isinstance(node, exp.Paren):
        return _value(node.this)
    if isinstance(node, exp.Null):
        return _NOTHING
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        try:
            return int(node.this)
        except ValueError:
            number = float(node.this)
            return number if number.is_integer() else _NOTHING
    if isinstance(node, exp.Neg):
        value = _value(node.this)
        if isinstance(value, str):  # -'5' is not a literal
            return None
        return value if value is None or value is _NOTHING else -value
    return None


def _key_table(column, keys):
    """The table key whose director-key column ``column`` is, or None (also if ambiguous)."""
    if not isinstance(column, exp.Column) or column.args.get("db"):
        return None
    qualifier = column.args.get("table")
    found = [key for key, name in keys.items()
             if (qualifier is None or identifier_matches(qualifier, key)) and identifier_matches(column.this, name)]
    return found[0] if len(found) == 1 else None


def _restriction(node, keys):
    """(table key, values) of a recognised conjunct, or None."""
    if isinstance(node, exp.EQ):
        candidates = [(node.this, [node.expression]), (node.expression, [node.this])]
    elif isinstance(node, exp.In):  # IN (SELECT ...) has no expressions
        candidates = [(node.this, node.expressions)]
    else:
        return None
    for column, constants in candidates:
        table, values = _key_table(column, keys), [_value(c) for c in constants]
        if table and constants and None not in values:
            return table, frozenset(v for v in values if v is not _NOTHING)
    return None


def director_key_restrictions(tree, key_columns):
    """The KeyRestrictions (one per table, in order of first appearance) of the top-level WHERE
    conjuncts of a single SELECT (module doc); ``key_columns`` maps a table name or alias of its
    FROM clause to its director-key column."""
    if not isinstance(tree, exp.Select) or tree.args.get("with_") or not tree.args.get("where"):
        return []
    keys = keys_of_from_tables(tree, key_columns)
    found = {}
    for node in top_level_conjuncts(tree.args["where"].this):
        restriction = _restriction(node, keys)
        if restriction:
            table, values = restriction
            known = found.get(table)
            found[table] = (values, (node,)) if known is None else (known[0] & values,
                                                                     known[1] + (node,))
    return [KeyRestriction(table, values, nodes) for table, (values, nodes) in found.items()]
