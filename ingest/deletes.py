"""Row deletion inside a super-transaction, atomic across workers like a load.

A delete marks the stored rows (every copy: own rows, overlap copies, every replica) with the
deleting transaction in ``_qserv_deleted``; readers treat a row as gone once they see that
transaction committed (``qserv.storage.live_condition``), so the commit that shows a transaction's
new rows also hides the rows it deleted, and a reader pinned to an earlier state still sees them.
An abort (or the recovery of a crashed transaction) clears its marks. The marks stay until
``purge`` removes the rows no reader can see any more.

- The first delete from a table switches its ``row_deletes`` on (a catalog change: plans reading
  the table start testing the mark).
- A row marked by another transaction still pending is a conflict (the delete is refused).
- Every worker holding the table takes part, disabled ones too (their copies must not come back
  undeleted when they are enabled): a worker that does not answer fails the delete.
- The transaction's per-chunk row counts go down by the rows it deleted (a contribution of
  negative counts), so the chunk map keeps counting visible rows.
"""

import numpy as np
import pyarrow as pa
from sqlalchemy import select, update

from qserv.errors import ConflictError, UserError
from qserv.meta.bulk import bulk_insert
from qserv.meta.catalog import get_table, get_transaction, table_columns
from qserv.meta.catalog_changes import record_change
from qserv.meta.models import Contribution, Table, Transaction, Worker
from qserv.storage import CHUNK_COLUMN, DELETED_COLUMN, OVERLAP_COLUMN, physical_table_name, quote, visible_condition

DELETE_KEY_PREFIX = "delete:"


def delete_rows(transactions, transaction_id, table_name, column, values):
    """Mark the visible rows of ``table_name`` whose ``column`` is in ``values`` as deleted by the
    open transaction; return how many of the table's own rows it deleted (overlap copies and
    replicas not counted)."""
    from qserv.ingest.transactions import pending_transactions, require_open

    keys = _keys(values, table_name, column)
    with transactions.store.session() as session:
        transaction = get_transaction(session, transaction_id)
        require_open(transaction)
        database_name = transaction.database.name
        table = get_table(session, database_name, table_name)
        if column not in {c.name for c in table_columns(table)}:
            raise UserError(f"{database_name}.{table_name} has no column {column!r}")
        if len(keys) == 0:
            return 0
        if not table.row_deletes:
            table.row_deletes = True
            record_change(session, f"row deletion on for {database_name}.{table_name}")
        hidden = pending_transactions(session, transaction_id)
        workers = session.scalars(select(Worker).order_by(Worker.id)).all()
        kind, id_column = table.kind, table.id_column
        table_id = table.id
    name = physical_table_name(database_name, table_name)
    marked_sql = (f"{quote(column)} IN (SELECT k FROM _qserv_keys) AND {quote(DELETED_COLUMN)} IS NULL "
                  f"AND {visible_condition(hidden)}")
    others = sorted(hidden)
    conflict_sql = (f"{quote(column)} IN (SELECT k FROM _qserv_keys) AND {quote(DELETED_COLUMN)} IN "
                    f"({', '.join(map(str, others))})" if others else None)
    returning = [CHUNK_COLUMN, OVERLAP_COLUMN] + ([id_column] if kind == "director" else [])
    counts = {}  # chunk -> (own rows, overlap rows), from the first worker holding the chunk
    deleted_ids = []
    for worker_row in workers:
        worker = transactions.pool.get(worker_row)
        if not worker.table_exists(name):
            continue
        if (worker_row.id, name) not in transactions.deletable:  # a table of an older release gains the column
            worker.ensure_table(name, _columns(transactions, database_name, table_name))
            transactions.deletable.add((worker_row.id, name))
        if conflict_sql is not None:
            found = worker.keyed(f"SELECT count(*) AS n FROM {quote(name)} WHERE {conflict_sql}", keys)
            if found.column("n")[0].as_py():
                raise ConflictError(f"{database_name}.{table_name}: rows with these {column} values are being "
                                    f"deleted by another transaction still open; retry when it ends")
        marked = worker.keyed(f"UPDATE {quote(name)} SET {quote(DELETED_COLUMN)} = {int(transaction_id)} "
                              f"WHERE {marked_sql} RETURNING {', '.join(quote(c) for c in returning)}", keys)
        _count(marked, counts)
        if kind == "director" and marked.num_rows:
            deleted_ids.append(marked.column(id_column).combine_chunks())
    if deleted_ids:
        ids = pa.concat_arrays([a.cast(deleted_ids[0].type) for a in deleted_ids]).unique()
        transactions.index.mark_deleted(database_name, table_name, ids, transaction_id, hidden)
    return _record(transactions, transaction_id, table_id, counts)


def unmark(transactions, database_name, tables, workers, transaction_id):
    """Clear the deletion marks of ``transaction_id`` (its abort) in ``tables`` with row deletion on."""
    for table in tables:
        if not table.row_deletes:
            continue
        name = physical_table_name(database_name, table.name)
        for worker_row in workers:
            worker = transactions.pool.get(worker_row)
            if worker.table_exists(name):
                worker.execute(f"UPDATE {quote(name)} SET {quote(DELETED_COLUMN)} = NULL "
                               f"WHERE {quote(DELETED_COLUMN)} = {int(transaction_id)}")
        if table.kind == "director":
            transactions.index.unmark_deleted(database_name, table.name, transaction_id)


def purge(transactions, database_name, keep_for=(), older_than=None):
    """Remove the rows (and director-index rows) deleted by committed transactions that every
    reader sees: none of the visibilities ``keep_for`` (pinned snapshots, HiddenTransactions)
    hides the deleting transaction. ``older_than`` (a datetime): only deletions committed before
    it (readers that started earlier may still need the others). The count of stored rows removed."""
    with transactions.store.session() as session:
        query = (select(Transaction.id).join(Contribution, Contribution.transaction_id == Transaction.id)
                 .where(Transaction.state == "committed", Contribution.key.startswith(DELETE_KEY_PREFIX),
                        Contribution.state == "loaded")
                 .where(Transaction.database.has(name=database_name)).distinct())
        if older_than is not None:
            query = query.where(Transaction.ended_at < older_than)
        candidates = set(session.scalars(query))
        purgeable = sorted(t for t in candidates if not any(_hides(pin, t) for pin in keep_for))
        tables = session.scalars(select(Table).where(Table.row_deletes.is_(True),
                                                     Table.database.has(name=database_name))).all()
        tables = [(t.name, t.kind) for t in tables]
        workers = session.scalars(select(Worker).order_by(Worker.id)).all()
    if not purgeable:
        return 0
    listed = ", ".join(map(str, purgeable))
    removed = 0
    for table_name, kind in tables:
        name = physical_table_name(database_name, table_name)
        for worker_row in workers:
            worker = transactions.pool.get(worker_row)
            if worker.table_exists(name):
                removed += worker.delete_where(name, f"{quote(DELETED_COLUMN)} IN ({listed})")
        if kind == "director":
            transactions.index.delete(database_name, table_name, f"deleted IN ({listed})")
    with transactions.store.session() as session:  # done: later purges need not look at them again
        session.execute(update(Contribution).where(
            Contribution.transaction_id.in_(purgeable), Contribution.key.startswith(DELETE_KEY_PREFIX))
            .values(state="purged"))
    return removed


def _hides(visibility, transaction_id):
    newest = getattr(visibility, "newest", None)
    return transaction_id in visibility or (newest is not None and transaction_id > newest)


def _keys(values, table_name, column):
    try:
        keys = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(list(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise UserError(f"{table_name}.{column}: the values to delete are not one type: {exc}") from None
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if keys.null_count:
        raise UserError(f"{table_name}.{column}: NULL is not a value rows can be deleted by")
    return keys.unique()


def _columns(transactions, database_name, table_name):
    with transactions.store.session() as session:
        return table_columns(get_table(session, database_name, table_name))


def _count(marked, counts):
    """Add a worker's marked rows per chunk to ``counts`` for the chunks no earlier worker gave."""
    if not marked.num_rows:
        return
    chunks = marked.column(CHUNK_COLUMN).to_numpy(zero_copy_only=False).astype(np.int64)
    overlap = marked.column(OVERLAP_COLUMN).to_numpy(zero_copy_only=False).astype(bool)
    mine = {}
    for chunk in np.unique(chunks):
        if int(chunk) in counts:
            continue
        at = chunks == chunk
        mine[int(chunk)] = (int((at & ~overlap).sum()), int((at & overlap).sum()))
    counts.update(mine)


def _record(transactions, transaction_id, table_id, counts):
    """A contribution of negative per-chunk counts; the table's own rows deleted."""
    own = sum(rows for rows, _ in counts.values())
    with transactions.store.session() as session:
        earlier = session.scalars(select(Contribution.id).where(
            Contribution.transaction_id == transaction_id, Contribution.table_id == table_id,
            Contribution.key.startswith(DELETE_KEY_PREFIX))).all()
        number = len(earlier) + 1
        contribution = Contribution(transaction_id=transaction_id, table_id=table_id,
                                    key=f"{DELETE_KEY_PREFIX}{number}", state="loaded", rows=-own,
                                    overlap_rows=-sum(overlap for _, overlap in counts.values()))
        session.add(contribution)
        session.flush()
        bulk_insert(session, "contribution_chunks", ("contribution_id", "chunk", "rows", "overlap_rows"),
                    [(contribution.id, chunk, -rows, -overlap) for chunk, (rows, overlap) in sorted(counts.items())])
    return own
