"""Director indexes: director id -> (chunk, sub-chunk, position), one DuckDB table per director table.

Index rows carry the transaction and contribution that wrote them, exactly like worker rows, so
they become visible with their transaction's commit and vanish with its abort. The positions (NULL
in the rows of instances made before they were kept) serve the checks of children placed by or near
their director (``qserv.ingest.director_links``), as do the *unmatched* rows of such children: their
director key, chunk and position when no director row held the key at their ingest.
"""

import threading
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from qserv.errors import InstanceBusyError
from qserv.storage import HiddenTransactions, index_table_name, live_condition, quote, visible_condition

LITERAL_KEYS = 1000  # up to this many integer keys are looked up as a literal IN list
POSITION_COLUMNS = ("ra", "dec")


def unmatched_table_name(database, child):
    return index_table_name(database, child) + "_unmatched"


def _sql_type(arrow_type):
    return "VARCHAR" if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) else "BIGINT"

def _without(hidden_transactions, transaction_id):
    """``hidden_transactions`` less one id (keeping the newest id it hides above)."""
    return HiddenTransactions(set(hidden_transactions) - {transaction_id},
                              getattr(hidden_transactions, "newest", None))


def describe_duplicates(ids, total):
    """``ids`` (the first few of ``total`` repeated ids) for an error message."""
    listed = ", ".join(map(repr, ids))
    return listed if total <= len(ids) else f"{total} ids, the first {len(ids)}: {listed}"


class DirectorIndex:
    """All director indexes of an instance, in one DuckDB file."""

    def __init__(self, path, read_only=False):
        """``read_only``: several processes may hold the file this way, while none writes it."""
        self.read_only = read_only
        try:
            self._connection = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            raise InstanceBusyError(
                f"the instance at {Path(path).parent} is in use by another process ({exc}); "
                f"embedded DuckDB files take one process at a time"
            ) from None
        self._lock = threading.Lock()
        if not read_only:
            self._upgrade()

    def _upgrade(self):
        """Index tables of older releases gain the ``deleted`` column (``mark_deleted``)."""
        lacking = self._run("SELECT table_name FROM information_schema.tables t WHERE table_name LIKE 'idx\\_%' "
                            "ESCAPE '\\' AND NOT EXISTS (SELECT 1 FROM information_schema.columns c "
                            "WHERE c.table_name = t.table_name AND c.column_name = 'deleted')", fetch=True)
        for name in lacking.column("table_name").to_pylist():
            if not name.endswith("_unmatched"):
                self._run(f"ALTER TABLE {quote(name)} ADD COLUMN deleted BIGINT")

    def close(self):
        self._connection.close()

    def _run(self, sql, parameters=None, fetch=False, **relations):
        """Execute ``sql`` with Arrow tables registered under the given names; return the
        result as a pyarrow.Table when ``fetch`` (every statement run without it writes)."""
        if self.read_only and not fetch:
            raise InstanceBusyError("this process serves the instance read-only (qserv serve --processes above 1 "
                                    "shares the director index between its processes): change the catalog "
                                    "with qserv serve --processes 1, or with the CLI while no server runs")
        with self._lock:
            cursor = self._connection.cursor()
            try:
                for name, relation in relations.items():
                    cursor.register(name, relation)
                if fetch:
                    return cursor.sql(sql, params=parameters).to_arrow_table()
                cursor.execute(sql, parameters)
                return None
            finally:
                cursor.close()

    def ensure(self, database, table, id_sql_type):
        name = index_table_name(database, table)
        self._run(f'CREATE TABLE IF NOT EXISTS "{name}" '
                  f"(id {id_sql_type}, chunk BIGINT, subchunk BIGINT, txn BIGINT, contrib BIGINT)")
        for column in POSITION_COLUMNS:
            self._run(f'ALTER TABLE "{name}" ADD COLUMN IF NOT EXISTS {column} DOUBLE')
        self._run(f'ALTER TABLE "{name}" ADD COLUMN IF NOT EXISTS deleted BIGINT')

    def add(self, database, table, ids, chunks, subchunks, transaction_id, contribution_id, ra=None, dec=None):
        self._insert(index_table_name(database, table), ids, chunks, subchunks, transaction_id, contribution_id,
                     ra, dec)

    def _insert(self, name, ids, chunks, subchunks, transaction_id, contribution_id, ra, dec):
        n = len(ids)
        rows = pa.table({
            "id": ids,
            "chunk": pa.array(chunks, pa.int64()),
            "subchunk": pa.array(subchunks, pa.int64()),
            "txn": pa.array(np.full(n, transaction_id, np.int64)),
            "contrib": pa.array(np.full(n, contribution_id, np.int64)),
            "ra": pa.nulls(n, pa.float64()) if ra is None else pa.array(ra, pa.float64()),
            "dec": pa.nulls(n, pa.float64()) if dec is None else pa.array(dec, pa.float64()),
        })
        self._run(f'INSERT INTO "{name}" BY NAME SELECT * FROM new_rows', new_rows=rows)

    def matches(self, database, table, keys, hidden_transactions):
        """Every visible index row holding one of ``keys``: a pyarrow.Table of ``position`` (in
        ``keys``), ``chunk``, ``subchunk``, ``ra`` and ``dec`` (NULL where not kept)."""
        return self._run(
            f"SELECT w.position, i.chunk, i.subchunk, i.ra, i.dec FROM wanted w "
            f'JOIN "{index_table_name(database, table)}" i ON i.id = w.key '
            f"AND {visible_condition(hidden_transactions, 'i.txn')} ORDER BY w.position",
            fetch=True,
            wanted=pa.table({"position": pa.array(np.arange(len(keys), dtype=np.int64)), "key": keys}),
        )

    def add_unmatched(self, database, child, ids, chunks, ra, dec, transaction_id, contribution_id):
        """Remember rows of ``child`` whose director key matched no director row (yet)."""
        name = unmatched_table_name(database, child)
        self._run(f'CREATE TABLE IF NOT EXISTS "{name}" (id {_sql_type(ids.type)}, chunk BIGINT, '
                  "subchunk BIGINT, txn BIGINT, contrib BIGINT, ra DOUBLE, dec DOUBLE)")
        self._insert(name, ids, chunks, np.full(len(ids), -1, np.int64), transaction_id, contribution_id, ra, dec)

    def unmatched(self, database, child, keys, hidden_transactions):
        """The remembered unmatched rows of ``child`` holding one of ``keys`` (as ``matches``, with
        ``txn`` and ``contrib``); None when ``child`` has none."""
        name = unmatched_table_name(database, child)
        if not self._run("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name], fetch=True).num_rows:
            return None
        return self._run(
            f'SELECT w.position, u.chunk, u.ra, u.dec, u.txn, u.contrib FROM wanted w JOIN "{name}" u ON u.id = w.key '
            f"AND {visible_condition(hidden_transactions, 'u.txn')} ORDER BY w.position",
            fetch=True,
            wanted=pa.table({"position": pa.array(np.arange(len(keys), dtype=np.int64)), "key": keys}),
        )

    def forget_unmatched(self, database, child, condition_sql):
        name = unmatched_table_name(database, child)
        if self._run("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name], fetch=True).num_rows:
            self._run(f'DELETE FROM "{name}" WHERE {condition_sql}')

    def lookup(self, database, table, keys, hidden_transactions):
        """(chunks, subchunks) for each key, -1 where the id is unknown. An id held by several
        chunks (non-unique directors) resolves to the smallest chunk."""
        wanted = pa.table({"position": pa.array(np.arange(len(keys), dtype=np.int64)), "key": keys})
        result = self._run(
            f"SELECT w.position, min(i.chunk) AS chunk, min(i.subchunk) AS subchunk "
            f'FROM wanted w LEFT JOIN "{index_table_name(database, table)}" i '
            f"ON i.id = w.key AND {visible_condition(hidden_transactions, 'i.txn')} "
            f"GROUP BY w.position ORDER BY w.position",
            fetch=True,
            wanted=wanted,
        )
        chunks = result.column("chunk").to_numpy(zero_copy_only=False)
        subchunks = result.column("subchunk").to_numpy(zero_copy_only=False)
        missing = np.isnan(chunks) if chunks.dtype.kind == "f" else np.zeros(len(chunks), bool)
        chunks = np.where(missing, -1, chunks).astype(np.int64)
        subchunks = np.where(missing, -1, subchunks).astype(np.int64)
        return chunks, subchunks

    def chunks_holding(self, database, table, keys, hidden_transactions):
        """Sorted distinct chunks holding any of ``keys`` (a pyarrow array of the id type). A few
        integer keys go in as literals, which lets DuckDB skip row groups by their min/max ids
        (a join against the key list scans the whole index)."""
        visible = visible_condition(hidden_transactions, "i.txn")
        if len(keys) <= LITERAL_KEYS and pa.types.is_integer(keys.type):
            listed = ", ".join(str(int(key)) for key in keys.to_pylist() if key is not None) or "NULL"
            result = self._run(f'SELECT DISTINCT i.chunk FROM "{index_table_name(database, table)}" i '
                               f"WHERE i.id IN ({listed}) AND {visible} ORDER BY i.chunk", fetch=True)
            return result.column("chunk").to_numpy(zero_copy_only=False).astype(np.int64)
        result = self._run(
            f'SELECT DISTINCT i.chunk FROM "{index_table_name(database, table)}" i '
            f"SEMI JOIN wanted w ON i.id = w.key WHERE {visible} "
            f"ORDER BY i.chunk",
            fetch=True,
            wanted=pa.table({"key": keys}),
        )
        return result.column("chunk").to_numpy(zero_copy_only=False).astype(np.int64)

    def duplicates(self, database, table, transaction_id, hidden_transactions, within=True, limit=10):
        """(the first ``limit`` ids, how many ids) written by the transaction that a visible row of
        another transaction holds too, and (``within``) that the transaction wrote more than once."""
        name = index_table_name(database, table)
        # rows of other transactions that are visible and that neither a committed transaction
        # nor this one deleted
        others = (f"{visible_condition(set(hidden_transactions) | {transaction_id}, 'txn')} AND "
                  f"{live_condition(_without(hidden_transactions, transaction_id), 'deleted')}")
        repeated = (f' UNION SELECT id FROM "{name}" WHERE txn = ? GROUP BY id HAVING count(*) > 1'
                    if within else "")
        found = self._run(
            f'WITH repeated AS (SELECT id FROM "{name}" WHERE txn = ? AND id IN '
            f'(SELECT id FROM "{name}" WHERE {others}){repeated}) '
            f"SELECT id, count(*) OVER () AS total FROM repeated ORDER BY id LIMIT {int(limit)}",
            [transaction_id] * (2 if within else 1), fetch=True,
        )
        ids = found.column("id").to_pylist()
        return ids, (found.column("total")[0].as_py() if ids else 0)

    def mark_deleted(self, database, table, ids, transaction_id, hidden_transactions):
        """Mark the index rows of ``ids`` that ``hidden_transactions`` do not hide as deleted by
        ``transaction_id`` (``qserv.ingest.deletes``)."""
        self._run(f'UPDATE "{index_table_name(database, table)}" SET deleted = ? '
                  f"WHERE id IN (SELECT key FROM wanted) AND deleted IS NULL "
                  f"AND {visible_condition(hidden_transactions, 'txn')}",
                  [int(transaction_id)], wanted=pa.table({"key": ids}))

    def unmark_deleted(self, database, table, transaction_id):
        self._run(f'UPDATE "{index_table_name(database, table)}" SET deleted = NULL WHERE deleted = ?',
                  [int(transaction_id)])

    def delete(self, database, table, condition_sql):
        self._run(f'DELETE FROM "{index_table_name(database, table)}" WHERE {condition_sql}')

    def drop(self, name):
        """Drop index table ``name`` (``index_table_name`` or ``unmatched_table_name``) if it exists."""
        found = self._run("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name],
                          fetch=True)
        if found.column("n")[0].as_py():
            self._run(f"DROP TABLE {quote(name)}")
