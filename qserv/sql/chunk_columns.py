"""``chunkId`` and ``subChunkId`` as columns of partitioned tables, as Qserv exposes them (pure).

A reference to a column named ``chunkId`` or ``subChunkId`` (unquoted, any case) that names no real
column of the query's tables reads the stored system column (``qserv.storage.SYSTEM_COLUMNS``) of
its director, child or match table; a select item so rewritten keeps the name the user wrote. On
any other table (replicated, time, hash, inline) it is an ``UnsupportedQueryError`` naming the
table. ``SELECT *`` does not show them. ``qserv.sql.dialects.resolve_identifiers`` calls
:func:`resolve_chunk_column` for a column it found nowhere else; the planner reads only the chunks
that a top-level ``chunkId = N`` or ``chunkId IN (N, ...)`` allows (:func:`chunk_restriction`).
"""

import numpy as np
from sqlglot import exp

from qserv.errors import UnsupportedQueryError
from qserv.query.conjuncts import top_level_conjuncts
from qserv.storage import CHUNK_COLUMN, SYSTEM_COLUMNS

SUBCHUNK_COLUMN = SYSTEM_COLUMNS[1][0]

STORED = {"chunkid": CHUNK_COLUMN, "subchunkid": SUBCHUNK_COLUMN}  # written name (lower case) -> stored
PARTITIONED_KINDS = ("director", "child", "match")


def _named(qualifier, key):
    return key == qualifier.name if qualifier.quoted else key.lower() == qualifier.name.lower()


def resolve_chunk_column(column, scopes, kinds):
    """Rewrite ``column`` (an ``exp.Column`` found in no source of ``scopes``, innermost first) to
    its table's stored chunk or sub-chunk column; False when its name is neither. ``kinds``: "db.table"
    -> the table's kind (``qserv.query.tables.TableInfo.kind``)."""
    stored = STORED.get(column.name.lower())
    if stored is None or column.this.quoted or kinds is None:
        return False
    qualifier = column.args.get("table")
    for scope in scopes:
        candidates = [source for key, (_, source) in scope.selected_sources.items()
                      if qualifier is None or _named(qualifier, key) or
                      _named(qualifier, getattr(source, "meta", {}).get("qserv_qualifier", ""))]
        if not candidates:
            continue
        tables = [source for source in candidates if isinstance(source, exp.Table)]
        if len(candidates) != 1 or len(tables) != 1:
            if len(tables) > 1 or qualifier is not None:
                raise UnsupportedQueryError(
                    f"column {column.name} is ambiguous: qualify it with the table it is read from")
            return False
        table = tables[0]
        key = table.meta["qserv_table"]
        if kinds.get(key) not in PARTITIONED_KINDS:
            raise UnsupportedQueryError(
                f"{column.name} is a column of partitioned (director, child and match) tables only; "
                f"{key} is a {kinds.get(key, 'inline')} table")
        _rewrite(column, stored, table.meta["qserv_qualifier"])
        return True
    return False


def _rewrite(column, stored, qualifier):
    written = column.name
    column.set("this", exp.to_identifier(stored, quoted=True))
    column.set("table", exp.to_identifier(qualifier, quoted=True))
    if isinstance(column.parent, exp.Select) and column.arg_key == "expressions":
        column.replace(exp.alias_(column.copy(), written, quoted=True))


def stored_chunk_columns(tree, alias):
    """The stored chunk columns that ``tree`` reads from the table of ``alias``, in storage order."""
    read = {column.name for column in tree.find_all(exp.Column) if column.table == alias}
    return [stored for stored in STORED.values() if stored in read]


def unbound(tree):
    """``tree`` or, when it reads a chunk column, a copy whose chunk column references are typed
    NULLs (for binding at the czar, whose empty copies of the tables have the user's columns only)."""
    if not any(column.name in STORED.values() for column in tree.find_all(exp.Column)):
        return tree
    tree = tree.copy()
    for column in list(tree.find_all(exp.Column)):
        if column.name in STORED.values():
            column.replace(exp.cast(exp.Null(), "BIGINT"))
    return tree


def chunk_restriction(select, aliases):
    """The sorted chunk ids (int64) that the top-level conditions ``alias.chunkId = N`` and
    ``alias.chunkId IN (N, ...)`` of a SELECT's WHERE allow, for ``aliases`` (its chunk-defining
    tables: every row they read in a chunk has that chunk id), or None when there is none."""
    where = select.args.get("where")
    allowed = None
    for term in top_level_conjuncts(where.this) if where is not None else ():
        ids = _chunk_ids(term, aliases)
        if ids is not None:
            allowed = ids if allowed is None else np.intersect1d(allowed, ids)
    return allowed


def _chunk_ids(term, aliases):
    if isinstance(term, exp.EQ):
        column, values = term.this, [term.expression]
        if not isinstance(column, exp.Column):
            column, values = term.expression, [term.this]
    elif isinstance(term, exp.In) and not term.args.get("query") and not term.args.get("unnest"):
        column, values = term.this, term.expressions
    else:
        return None
    if not (isinstance(column, exp.Column) and column.name == CHUNK_COLUMN and column.table in aliases):
        return None
    ids = [_integer(value) for value in values]
    if not ids or None in ids:
        return None
    return np.unique(np.array([i for i in ids if abs(i) < 2**63], dtype=np.int64))  # larger: no chunk


def _integer(node):
    """The value of an integer literal, or of ``-`` one; None for anything else."""
    sign = -1 if isinstance(node, exp.Neg) else 1
    node = node.this if sign < 0 else node
    return sign * int(node.name) if isinstance(node, exp.Literal) and node.is_int else None
