"""Director indexes: director id -> (chunk, sub-chunk), one DuckDB table per director table.

Index rows carry the transaction and contribution that wrote them, exactly like worker rows, so
they become visible with their transaction's commit and vanish with its abort.
"""

import threading
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from qserv.errors import InstanceBusyError
from qserv.storage import index_table_name, visible_condition

LITERAL_KEYS = 1000  # up to this many integer keys are looked up as a literal IN list

def describe_duplicates(ids, total):
    """``ids`` (the first few of ``total`` repeated ids) for an error message."""
    listed = ", ".join(map(repr, ids))
    return listed if total <= len(ids) else f"{total} ids, the first {len(ids)}: {listed}"


class DirectorIndex:
    """All director indexes of an instance, in one DuckDB file."""

    def __init__(self, path):
        try:
            self._connection = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise InstanceBusyError(
                f"the instance at {Path(path).parent} is in use by another process ({exc}); "
                f"embedded DuckDB files take one process at a time"
            ) from None
        self._lock = threading.Lock()

    def close(self):
        self._connection.close()

    def _run(self, sql, parameters=None, fetch=False, **relations):
        """Execute ``sql`` with Arrow tables registered under the given names; return the
        result as a pyarrow.Table when ``fetch``."""
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
        self._run(
            f'CREATE TABLE IF NOT EXISTS "{index_table_name(database, table)}" '
            f"(id {id_sql_type}, chunk BIGINT, subchunk BIGINT, txn BIGINT, contrib BIGINT)"
        )

    def add(self, database, table, ids, chunks, subchunks, transaction_id, contribution_id):
        n = len(ids)
        rows = pa.table({
            "id": ids,
            "chunk": pa.array(chunks, pa.int64()),
            "subchunk": pa.array(subchunks, pa.int64()),
            "txn": pa.array(np.full(n, transaction_id, np.int64)),
            "contrib": pa.array(np.full(n, contribution_id, np.int64)),
        })
        self._run(f'INSERT INTO "{index_table_name(database, table)}" SELECT * FROM new_rows',
                  new_rows=rows)

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
        others = visible_condition(set(hidden_transactions) | {transaction_id}, "txn")
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

    def delete(self, database, table, condition_sql):
        self._run(f'DELETE FROM "{index_table_name(database, table)}" WHERE {condition_sql}')
