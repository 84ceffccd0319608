"""Which catalog column each result column of a query is (pure, no I/O).

A result column that is a plain column reference (``o.ra``, ``ra AS x``, ``*``, ``o.*``) carries its
declaration (type, length, unit, UCD, description), so TAP results describe it as TAP_SCHEMA does.
Computed columns, and columns of derived tables and set operations, are described by their values.
"""

from sqlglot import exp

from qserv.query.conjuncts import identifier_matches
from qserv.query.joins import source_tables, table_key


def declared_columns(tree, tables):
    """[Column or None] per result column of ``tree`` (resolved), or None when unknown."""
    if not isinstance(tree, exp.Select):
        return None
    sources = source_tables(tree)
    if sources is None:
        return None
    infos = {alias: tables.get(table_key(table)) for alias, table in sources}
    found = []
    for item in tree.expressions:
        target = item.this if isinstance(item, exp.Alias) else item
        if isinstance(target, exp.Star):
            if any(info is None for info in infos.values()):
                return None
            found.extend(column for info in infos.values() for column in info.columns)
        elif isinstance(target, exp.Column) and isinstance(target.this, exp.Star):
            info = _source(infos, target.args.get("table"))
            if info is None:
                return None
            found.extend(info.columns)
        elif isinstance(target, exp.Column):
            found.append(_column(infos, target))
        else:
            found.append(None)
    return found


def _source(infos, qualifier):
    matches = [info for alias, info in infos.items() if qualifier is not None
               and identifier_matches(qualifier, alias)]
    return matches[0] if len(matches) == 1 else None


def _column(infos, column):
    qualifier = column.args.get("table")
    candidates = [info for alias, info in infos.items() if info is not None
                  and (qualifier is None or identifier_matches(qualifier, alias))]
    matches = [c for info in candidates for c in info.columns if identifier_matches(column.this, c.name)]
    return matches[0] if len(matches) == 1 else None
