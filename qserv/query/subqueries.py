"""Uncorrelated subqueries in expressions (``x IN (SELECT ...)``, ``EXISTS (SELECT ...)``, scalar
``(SELECT ...)``): answered first, then replaced by their values as literals (pure).

``extract_subqueries(select)`` replaces each by a placeholder call ``QSERV_SUBQUERY_<k>`` and
returns ``{name: (kind, query)}``; ``substitute(tree, name, kind, values)`` puts the answer in:
an IN list (``FALSE`` for no rows), ``TRUE``/``FALSE`` for EXISTS, one literal (NULL for no rows)
for a scalar subquery. A correlated subquery (reading a column of the outer query) is refused.
"""

import math

from sqlglot import exp
from sqlglot.optimizer.scope import build_scope

from qserv.errors import UnsupportedQueryError, UserError
from qserv.query.joins import table_key

PLACEHOLDER = "QSERV_SUBQUERY_"
MAX_IN_VALUES = 100_000


def _owned(node, select):
    return node.find_ancestor(exp.Select) is select


def _is_correlated(scope, tables):
    """Whether a subquery scope reads a column of an outer query (names are resolved already:
    an unqualified name is local when a table of the scope has it)."""
    local = {name for name, _ in scope.references}
    local_columns = set()
    for source in scope.sources.values():
        if not isinstance(source, exp.Table):
            return any(c.table and c.table not in local for c in scope.columns)
        info = tables.get(table_key(source))
        local_columns.update(name.lower() for name in (info.column_names if info else []))
    return any((c.table not in local) if c.table else (c.name.lower() not in local_columns)
               for c in scope.columns)


def extract_subqueries(select, tables, counter):
    """Placeholders for the expression subqueries of ``select`` itself (changed in place)."""
    root = build_scope(select)
    for scope in (root.subquery_scopes if root else []):
        if _is_correlated(scope, tables):
            raise UnsupportedQueryError(
                f"correlated subqueries are not supported: {scope.expression.sql()[:80]}")
    found = {}
    for node in list(select.find_all(exp.Subquery)):
        if not _owned(node, select) or isinstance(node.parent, (exp.From, exp.Join)):
            continue
        parent = node.parent
        name = f"{PLACEHOLDER}{counter[0]}"
        counter[0] += 1
        if isinstance(parent, exp.In) and parent.args.get("query") is node:
            found[name] = ("in", node.this)
            parent.replace(exp.Anonymous(this=name, expressions=[parent.this.copy()]))
        elif isinstance(parent, exp.Exists):
            found[name] = ("exists", node.this)
            parent.replace(exp.Anonymous(this=name, expressions=[]))
        else:
            found[name] = ("scalar", node.this)
            node.replace(exp.Anonymous(this=name, expressions=[]))
    for node in list(select.find_all(exp.Exists)):
        if _owned(node, select) and isinstance(node.this, exp.Select):
            name = f"{PLACEHOLDER}{counter[0]}"
            counter[0] += 1
            found[name] = ("exists", node.this)
            node.replace(exp.Anonymous(this=name, expressions=[]))
    return found


def literal(value):
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        text = repr(value) if math.isfinite(value) else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
        return exp.cast(exp.Literal.string(text), "DOUBLE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise UnsupportedQueryError(f"a subquery value of type {type(value).__name__} cannot be used here")


def substitute(tree, name, kind, values):
    """``tree`` with placeholder ``name`` replaced by the subquery's answer ``values`` (a list of
    the first column's values)."""
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name != name:
            continue
        if kind == "exists":
            node.replace(exp.Boolean(this=bool(values)))
        elif kind == "scalar":
            if len(values) > 1:
                raise UserError(f"a subquery used as a value returned {len(values)} rows (at most 1 allowed)")
            node.replace(literal(values[0] if values else None))
        elif not values:
            node.replace(exp.Boolean(this=False))
        else:
            if len(set(values)) > MAX_IN_VALUES:
                raise UnsupportedQueryError(
                    f"an IN (SELECT ...) subquery returned {len(set(values))} values; at most "
                    f"{MAX_IN_VALUES} are supported")
            distinct = list(dict.fromkeys(values))
            node.replace(exp.In(this=node.expressions[0], expressions=[literal(v) for v in distinct]))
    return tree
