"""Worker SQL from a plan's template, for one batch of chunks on one backend (pure).

Every catalog table of the template becomes a derived table with the same alias that exposes the
user's columns only, restricted to

- visible rows (``qserv.storage.visible_condition``): ``_qserv_txn NOT IN (<transactions not
  committed>)`` and, for a table with row deletion on, not deleted (``visible_live_condition``);
- for a sharded table: ``_qserv_chunk IN (<the batch>)`` and, except for the near-neighbour partner
  that reads the overlap, ``NOT _qserv_overlap``.

so ``SELECT *`` and every column reference of the query work unchanged, and the worker's engine
pushes the filters down to the stored table. Inline tables (``qserv.query.inline``) become VALUES
lists of their rows. The chunk condition, the visible-rows condition and the inline tables are
slots (``qserv.query.slots``): the tree is rendered once per plan and each statement fills the
slots by position.
"""

from dataclasses import dataclass

from sqlglot import exp

from qserv.query.inline import placeholders, values_sql
from qserv.query.joins import table_key
from qserv.query.plan import ZONE_COLUMN, ChunkPlan
from qserv.query import slots
from qserv.sql.chunk_columns import stored_chunk_columns
from qserv.sql.emit import to_sql
from qserv.storage import (CHUNK_COLUMN, OWN_ROWS_CONDITION, physical_table_name, quote, visible_condition,
                           visible_live_condition)


# The slots of the batch's chunk condition and of the query's visible-rows condition.
CHUNKS_SLOT = "_qserv_batch_chunks"
VISIBLE_SLOT = "_qserv_visible"
VISIBLE_LIVE_SLOT = "_qserv_visible_live"  # a table with row deletion on: also not deleted
TABLE_SLOT = "_qserv_table_"  # + k: the k-th catalog table of the statement, as a derived table


def visible_rows(info, alias, with_overlap, with_chunk, zone=None, read=()):
    """The derived table reading the visible rows of a table as ``alias``, as SQL text pieces
    ``[text, VISIBLE_SLOT, text]`` or, for a sharded table, ``[text, CHUNKS_SLOT, text,
    VISIBLE_SLOT, text]`` (the same text on both backends). ``zone`` (height in degrees, offered):
    also the row's declination zone ``_qserv_zone``; an offered row comes three times, under its own
    zone and both neighbours' (for the near-neighbour zone join of ``qserv.query.plan``)."""
    chunk = [CHUNK_COLUMN] if with_chunk else []
    columns = [quote(name) for name in info.column_names + chunk + [c for c in read if c not in chunk]]
    source = quote(physical_table_name(info.database, info.name))
    if zone is not None:
        height_deg, offered = zone
        own_zone = f"FLOOR({quote(info.dec_column)} / {float(height_deg)!r})"
        if offered:
            columns.append(f"{own_zone} + {quote('_qserv_z')}.{quote('_qserv_d')} AS {quote(ZONE_COLUMN)}")
            source += f" CROSS JOIN (VALUES (-1), (0), (1)) AS {quote('_qserv_z')}({quote('_qserv_d')})"
        else:
            columns.append(f"{own_zone} AS {quote(ZONE_COLUMN)}")
    head = f"(SELECT {', '.join(columns)} FROM {source} WHERE "
    own = f" AND {OWN_ROWS_CONDITION}" if info.sharded and not with_overlap else ""
    tail = [VISIBLE_LIVE_SLOT if info.row_deletes else VISIBLE_SLOT, f"{own}) AS {quote(alias)}"]
    if info.sharded:
        return [head, CHUNKS_SLOT, " AND ", *tail]
    return [head, *tail]


def substitute_tables(tree, tables, overlap_alias=None, chunk_aliases=(), zone_height_deg=None):
    """(a copy of ``tree`` whose catalog tables are slots, {slot key: pieces of the derived table
    reading the visible rows of the batch's chunks}); the tables of ``chunk_aliases`` also expose
    ``_qserv_chunk`` and, with ``zone_height_deg``, ``_qserv_zone`` (``overlap_alias`` offering each
    row in three zones)."""
    tree = tree.copy()
    derived = {}
    for table in list(tree.find_all(exp.Table)):
        info = tables.get(table_key(table))
        if info is None or info.inline:
            continue
        alias = table.alias_or_name
        zone = (zone_height_deg, alias == overlap_alias) if zone_height_deg and alias in chunk_aliases else None
        key = f"{TABLE_SLOT}{len(derived)}"
        derived[key] = visible_rows(info, alias, alias == overlap_alias, alias in chunk_aliases, zone,
                                    stored_chunk_columns(tree, alias))
        if table is tree:
            return slots.slot(key), derived
        table.replace(slots.slot(key))
    return tree, derived


@dataclass(frozen=True)
class WorkerTemplate:
    """A plan's worker statement on one backend, rendered once per plan (the plan cache keeps it
    for queries of the same shape): ``parts`` is its text split at the slots (``[text, key, text,
    ..., text]``); ``inline`` maps the slot key of each inline table to its TableInfo."""

    parts: tuple
    inline: dict

    def fill(self, chunks, backend, hidden_transactions, inline_rows=None):
        """The statement for ``chunks`` (``None``: every chunk the worker holds, no chunk filter)
        hiding the rows of ``hidden_transactions`` (``qserv.storage.visible_condition``); inline
        tables as VALUES lists of their rows, or of ``inline_rows(info)`` when given."""
        if chunks is None:
            chunk_condition = "TRUE"
        else:
            listed = ", ".join(str(int(c)) for c in chunks) if len(chunks) else "NULL"  # IN (NULL): no row
            chunk_condition = f"{quote(CHUNK_COLUMN)} IN ({listed})"
        visible = visible_condition(hidden_transactions)
        pieces = list(self.parts)
        for index in range(1, len(pieces), 2):
            key = pieces[index]
            if key == CHUNKS_SLOT:
                pieces[index] = chunk_condition
            elif key == VISIBLE_SLOT:
                pieces[index] = visible
            elif key == VISIBLE_LIVE_SLOT:
                pieces[index] = visible_live_condition(hidden_transactions)
            else:
                info = self.inline[key]
                rows = info.rows if inline_rows is None else inline_rows(info)
                pieces[index] = f"({values_sql(info, rows, backend)})"
        return "".join(pieces)


def worker_template(plan, backend):
    """The WorkerTemplate of a ChunkPlan, or of a whole ReplicatedPlan."""
    if isinstance(plan, ChunkPlan):
        tables = {info.key: info for info in plan.aliases.values()}
        pair = (plan.overlap_alias, plan.near_alias) if plan.overlap_alias else ()
        tree, derived = substitute_tables(plan.worker, tables, plan.overlap_alias, pair, plan.zone_height_deg)
    else:
        tables = {info.key: info for info in plan.tables}
        tree, derived = substitute_tables(plan.tree, tables)
    tree, found = placeholders(tree, tables, copy=False)  # ``tree`` is substitute_tables' copy
    expected = slots.count(tree)
    parts = slots.split(to_sql(tree, backend, copy=False), expected, tree)
    return WorkerTemplate(tuple(_expanded(parts, derived)), dict(found))


def _expanded(parts, derived):
    """``parts`` with each table slot replaced by the pieces of its derived table (whose chunk
    condition stays a slot), neighbouring texts joined."""
    out = [parts[0]]
    for index in range(1, len(parts), 2):
        pieces = derived.get(parts[index], ["", parts[index], ""])
        out[-1] += pieces[0]
        out.extend(pieces[1:])  # [slot, text, ...]
        out[-1] += parts[index + 1]
    return out


def worker_sql(plan, chunks, backend, hidden_transactions, inline_rows=None):
    """The statement a worker runs for ``chunks`` of a ChunkPlan (or the whole of a
    ReplicatedPlan when ``plan`` is one: ``chunks`` is then ignored)."""
    return worker_template(plan, backend).fill(chunks, backend, hidden_transactions, inline_rows)
