"""The rows of whole chunks on one worker: copy them, delete them, and sign them.

A chunk's signature on a worker is, per table, the number of visible rows stored with that chunk
id (own rows and overlap copies) and an order-independent checksum: the sum modulo 2**64 of a
64-bit hash of every row (the user's columns, the chunk, sub-chunk and overlap flag; not the
transaction and contribution ids, which a copy replaces). Rows are read as Arrow,
cast to the table's canonical Arrow types and hashed by an in-memory DuckDB, so replicas on
DuckDB and PostgreSQL workers sign alike; a DuckDB worker whose columns read as those types hashes
its rows in place (the same values of the same types: the same hash, without moving the rows).
The sum (unlike an XOR) also tells a duplicated row.
"""

import duckdb
import pyarrow as pa

from qserv.schema.types import arrow_type
from qserv.storage import SYSTEM_COLUMNS, quote, visible_condition

# Chunks read per worker statement when signing many chunks.
SIGN_BATCH_CHUNKS = 256
HASH_MODULUS = 1 << 64
UNSIGNED = ("_qserv_txn", "_qserv_contrib")


def stored_schema(columns):
    """The Arrow schema of a stored table: the user's ``Column``s, then SYSTEM_COLUMNS."""
    return pa.schema([(c.name, arrow_type(c)) for c in columns]
                     + [(name, arrow_type(datatype)) for name, datatype in SYSTEM_COLUMNS])


def read_chunk(worker, table, chunk):
    """Every row stored with chunk id ``chunk`` in physical table ``table`` (None if no table)."""
    if not worker.table_exists(table):
        return None
    return worker.query(f"SELECT * FROM {quote(table)} WHERE _qserv_chunk = {int(chunk)}")


def delete_chunk(worker, table, chunk):
    """Delete the rows of ``chunk`` from ``table`` (when the table exists); the count deleted."""
    if not worker.table_exists(table):
        return 0
    return worker.delete_where(table, f"_qserv_chunk = {int(chunk)}")


def copy_chunk(source, target, table, columns, chunk, transaction=None):
    """Replace the rows of ``chunk`` in ``table`` on ``target`` by those on ``source``, written as
    rows of ``transaction`` when given (so they stay hidden until it commits)."""
    rows = read_chunk(source, table, chunk)
    target.ensure_table(table, columns)
    delete_chunk(target, table, chunk)
    if rows is not None and rows.num_rows:
        if transaction is not None:
            index = rows.schema.get_field_index("_qserv_txn")
            rows = rows.set_column(index, rows.schema.field(index), pa.array([transaction] * rows.num_rows, pa.int64()))
        target.load(table, rows)


def restore_transactions(worker, table, chunk, transaction, contributions):
    """Give the rows of ``chunk`` that a copy wrote as ``transaction`` back the transaction of the
    contribution that wrote each (``contributions``: contribution id -> transaction id), so that a
    reader pinned to an older visibility (``qserv.meta.snapshots``) sees the copy as it saw the
    original. Idempotent."""
    if not worker.table_exists(table):
        return
    where = f"_qserv_chunk = {int(chunk)} AND _qserv_txn = {int(transaction)}"
    found = worker.query(f"SELECT DISTINCT _qserv_contrib FROM {quote(table)} WHERE {where}").column(0).to_pylist()
    known = sorted(int(c) for c in found if c in contributions)
    if known:
        cases = " ".join(f"WHEN {c} THEN {int(contributions[c])}" for c in known)
        worker.execute(f"UPDATE {quote(table)} SET _qserv_txn = CASE _qserv_contrib {cases} END "
                       f"WHERE {where} AND _qserv_contrib IN ({', '.join(map(str, known))})")


def sign_rows(rows, schema):
    """{chunk: (rows, checksum)} of an Arrow table of stored rows."""
    rows = rows.select(schema.names).cast(schema)
    names = ", ".join(quote(name) for name in schema.names if name not in UNSIGNED)
    connection = duckdb.connect()
    try:
        connection.register("_rows", rows)
        found = connection.execute(
            f"SELECT _qserv_chunk, count(*), sum(hash({names})::HUGEINT) % {HASH_MODULUS} "
            "FROM _rows GROUP BY _qserv_chunk").fetchall()
    finally:
        connection.close()
    return {int(chunk): (int(count), int(checksum)) for chunk, count, checksum in found}


def sign_chunks(worker, table, columns, chunks, hidden):
    """{chunk: (visible rows, checksum)} of ``table`` on ``worker`` for the ``chunks`` (ints);
    a chunk without rows there is absent."""
    if not worker.table_exists(table):
        return {}
    schema = stored_schema(columns)
    in_place = _hashes_alike(worker, table, schema)
    names = ", ".join(quote(name) for name in schema.names if name not in UNSIGNED)
    chunks = sorted(int(c) for c in chunks)
    signed = {}
    for start in range(0, len(chunks), SIGN_BATCH_CHUNKS):
        where = (f"_qserv_chunk IN ({', '.join(map(str, chunks[start:start + SIGN_BATCH_CHUNKS]))}) "
                 f"AND {visible_condition(hidden)}")
        if in_place:
            found = worker.query(f"SELECT _qserv_chunk, count(*) AS n, sum(hash({names})::HUGEINT) % {HASH_MODULUS} "
                                 f"AS s FROM {quote(table)} WHERE {where} GROUP BY _qserv_chunk")
            columns = (found.column(i).to_pylist() for i in range(3))
            signed.update({int(c): (int(n), int(s)) for c, n, s in zip(*columns)})
        else:
            signed.update(sign_rows(worker.query(f"SELECT * FROM {quote(table)} WHERE {where}"), schema))
    return signed


def _hashes_alike(worker, table, schema):
    """Whether a DuckDB worker can sign ``table`` itself: its columns read as the canonical Arrow
    types of ``schema``, so DuckDB hashes the values stored there as it hashes them read into
    ``sign_rows`` (the signatures of all replicas compare, whatever their backend)."""
    if worker.backend != "duckdb":
        return False
    stored = worker.query(f"SELECT * FROM {quote(table)} LIMIT 0").schema
    return all(name in stored.names and stored.field(name).type == schema.field(name).type
               for name in schema.names if name not in UNSIGNED)
