"""The PostgreSQL worker: one database reached by DSN through a thread-safe connection pool.

Data crosses the wire as CSV in both directions, converted by Arrow's multi-threaded CSV codec:

- ``load`` casts the rows to the table's Arrow schema, writes them with ``pyarrow.csv`` and runs
  ``COPY ... FROM STDIN`` per batch, in one transaction. Arrow quotes every string and leaves NULL
  unquoted and empty, which COPY reads as NULL vs ``""``. Floats are written in their shortest
  round-trip form (``nan``/``inf`` included), so float64 values arrive exactly.
- ``query`` learns the result's column types from ``SELECT * FROM (q) LIMIT 0``, runs
  ``COPY (q) TO STDOUT`` and parses the CSV with explicit Arrow types (PostgreSQL 12+ prints floats
  in shortest round-trip form too).

``bytea`` travels as PostgreSQL hex text (``\\x0aff``), converted with numpy. ``numeric`` results
(e.g. SUM over BIGINT) come back as float64.

``query`` runs in a READ ONLY transaction under the role ``qserv_reader`` (``SET LOCAL ROLE``), which
may only SELECT the catalog tables: no ``pg_read_file``, ``pg_ls_dir``, server-side COPY or large
objects, no superuser-only settings, whatever the DSN's role may do. Opening a worker creates that
NOLOGIN role when it is missing (the DSN's role needs CREATEROLE, or an administrator creates it and
grants it to the DSN's role) and grants it SELECT on the catalog tables that lack it; ``ensure_table``
grants it on every table it creates. Ingest and DDL keep the DSN's role.
"""

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
import io
import threading

import numpy as np
import psycopg2
from psycopg2.extensions import make_dsn, parse_dsn
from psycopg2.pool import PoolError, ThreadedConnectionPool
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv

from qserv.errors import WorkerQueryError, WorkerUnavailableError
from qserv.exec.worker import Worker
from qserv.exec.workers import check_same_columns, check_table, conform, create_table_sql
from qserv.storage import quote

# Arrow type of a result column by PostgreSQL type OID; anything else is read as text.
ARROW_TYPES = {
    16: pa.bool_(), 17: pa.binary(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(),
    700: pa.float32(), 701: pa.float64(), 1082: pa.date32(), 1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"), 1700: pa.float64(),
}
BATCH_ROWS = 1 << 16
COPY_BUFFER = 1 << 20
CONNECT_TIMEOUT_S = "10"
# Text output the CSV reader relies on: shortest exact floats (PostgreSQL 12+), ISO dates.
# jit=off: LLVM compilation of long generated predicates (polygons) costs seconds per query.
SESSION_OPTIONS = "-c extra_float_digits=1 -c DateStyle=ISO,YMD -c jit=off"
READER_ROLE = "qserv_reader"
# The reader role exists and the DSN's role may SET ROLE to it (a role created here is granted).
_READER_SETUP = f"""
DO $setup$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER_ROLE}') THEN
    BEGIN
      CREATE ROLE {READER_ROLE} NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile elsewhere
    END;
  END IF;
  IF NOT pg_has_role(current_user, '{READER_ROLE}', 'MEMBER') THEN
    EXECUTE format('GRANT {READER_ROLE} TO %I', current_user);
  END IF;
END $setup$"""
# Catalog tables (those with qserv's system columns) the reader cannot SELECT yet.
_UNGRANTED_TABLES = f"""
SELECT c.relname FROM pg_class AS c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
  AND EXISTS (SELECT FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attname = '_qserv_txn')
  AND NOT has_table_privilege('{READER_ROLE}', c.oid, 'SELECT')"""
# Prefix of every query: read-only, as the reader (both end with the transaction).
_AS_READER = f"SET TRANSACTION READ ONLY; SET LOCAL ROLE {READER_ROLE}; "
HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
HEX_VALUES = np.zeros(256, np.uint8)
HEX_VALUES[HEX_DIGITS] = np.arange(16)
HEX_VALUES[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def redact(dsn):
    """The DSN without its password, for messages."""
    try:
        params = parse_dsn(dsn)
    except psycopg2.Error:
        return "<unparsable DSN>"
    params.pop("password", None)
    return make_dsn(**params)


class PostgresWorker(Worker):
    backend = "postgres"

    def __init__(self, name, dsn, max_connections=8):
        self.name = name
        self.dsn = redact(dsn)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._ddl_lock = threading.Lock()
        try:
            params = parse_dsn(dsn)
            params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
            params["client_encoding"] = "UTF8"
            params["options"] = f"{params.get('options', '')} {SESSION_OPTIONS}".strip()
            self._pool = ThreadedConnectionPool(1, max_connections, make_dsn(**params))
        except psycopg2.Error as exc:
            raise self._unavailable(exc) from exc
        self._prepare_reader()

    def __repr__(self):
        return f"PostgresWorker({self.name!r}, {self.dsn!r})"

    def _unavailable(self, exc):
        reason = str(exc).strip() or type(exc).__name__
        return WorkerUnavailableError(f"worker {self.name} ({self.dsn}) is unavailable: {reason}")

    @contextmanager
    def _cursor(self, commit=True):
        """A cursor in a transaction committed on success (rolled back when not ``commit``); a
        dead connection leaves the pool."""
        with self._slots:
            try:
                connection = self._pool.getconn()
            except psycopg2.Error as exc:
                raise self._unavailable(exc) from exc
            committed = False
            try:
                with connection.cursor() as cursor:
                    yield cursor
                if commit:
                    connection.commit()
                    committed = True
            except psycopg2.Error as exc:
                if connection.closed:
                    raise self._unavailable(exc) from exc
                raise WorkerQueryError(f"worker {self.name}: {str(exc).strip()}") from exc
            finally:
                if not committed and not connection.closed:
                    try:
                        connection.rollback()
                    except psycopg2.Error:
                        connection.close()
                self._release(connection)

    def _release(self, connection):
        """Return a connection to the pool, or close it when the pool was closed meanwhile (the
        worker was discarded after a failure while this statement ran)."""
        try:
            self._pool.putconn(connection, close=bool(connection.closed))
        except PoolError:
            connection.close()

    def _prepare_reader(self):
        """Create the reader role if missing and let it SELECT every catalog table."""
        try:
            with self._ddl_lock, self._cursor() as cursor:
                cursor.execute(_READER_SETUP)
                cursor.execute(_UNGRANTED_TABLES)
                for (table,) in cursor.fetchall():
                    cursor.execute(f"GRANT SELECT ON {quote(table)} TO {READER_ROLE}")
        except WorkerQueryError as exc:
            self.close()
            raise WorkerUnavailableError(
                f"{exc}; the DSN's role must be allowed to create the role {READER_ROLE} (CREATEROLE), "
                f"or an administrator creates it (CREATE ROLE {READER_ROLE} NOLOGIN) and grants it to "
                "the DSN's role") from exc

    def _columns(self, cursor, sql, prefix=""):
        """(name, OID) of the columns ``sql`` returns, without running it (after ``prefix``
        statements in the same round trip)."""
        cursor.execute(f"{prefix}SELECT * FROM ({sql}\n) AS _qserv_q LIMIT 0")
        return [(column.name, column.type_code) for column in cursor.description]

    def _schema(self, cursor, table):
        columns = self._columns(cursor, f"SELECT * FROM {quote(table)}")
        return pa.schema([(name, ARROW_TYPES.get(oid, pa.string())) for name, oid in columns])

    def ensure_table(self, table, columns):
        from qserv.schema.types import postgres_type

        sql = create_table_sql(table, columns, postgres_type)
        with self._ddl_lock, self._cursor() as cursor:
            if self._exists(cursor, table):
                for upgrade in check_same_columns(self.name, table, self._schema(cursor, table).names, columns):
                    cursor.execute(upgrade)
            else:
                cursor.execute(sql)
                cursor.execute(f"GRANT SELECT ON {quote(check_table(table))} TO {READER_ROLE}")

    def load(self, table, rows):
        with self._cursor() as cursor:
            rows = conform(self.name, table, rows, self._schema(cursor, check_table(table)))
            rows = _bytea_as_text(rows)
            names = ", ".join(quote(name) for name in rows.column_names)
            copy = f"COPY {quote(table)} ({names}) FROM STDIN WITH (FORMAT csv)"
            batches = iter(rows.to_batches(max_chunksize=BATCH_ROWS))
            # Arrow writes the next batch's CSV while PostgreSQL reads the current one.
            with ThreadPoolExecutor(1) as writer:
                pending = writer.submit(_csv_bytes, next(batches, None))
                while (buffer := pending.result()) is not None:
                    pending = writer.submit(_csv_bytes, next(batches, None))
                    cursor.copy_expert(copy, buffer, size=COPY_BUFFER)

    def delete_where(self, table, condition_sql):
        with self._cursor() as cursor:
            cursor.execute(f"DELETE FROM {quote(check_table(table))} WHERE {condition_sql}")
            return cursor.rowcount

    def keyed(self, sql, keys):
        element = _ARRAY_TYPES.get(str(keys.type))
        if element is None:
            raise WorkerQueryError(f"worker {self.name}: keys of type {keys.type} are not supported")
        with self._cursor() as cursor:
            cursor.execute(f"WITH _qserv_keys(k) AS (SELECT unnest(%s::{element}[])) {sql}", (keys.to_pylist(),))
            names = [column.name for column in cursor.description]
            rows = cursor.fetchall()
        return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})

    def query(self, sql, cancellation=None):
        sql = sql.strip().rstrip(";")
        buffer = io.BytesIO()
        with self._cursor(commit=False) as cursor:  # a query leaves nothing behind
            with cancellation.interruptible(cursor.connection.cancel) if cancellation else nullcontext():
                columns = self._columns(cursor, sql, prefix=_AS_READER)
                copy = f"COPY ({sql}\n) TO STDOUT WITH (FORMAT csv)"
                cursor.copy_expert(copy, buffer, size=COPY_BUFFER)
        try:
            return _read_csv(buffer, columns)
        except pa.ArrowException as exc:
            raise WorkerQueryError(f"worker {self.name}: cannot convert the result: {exc}") from exc

    def execute(self, sql):
        with self._cursor() as cursor:
            cursor.execute(sql)

    def _exists(self, cursor, table):
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (quote(check_table(table)),))
        return cursor.fetchone()[0]

    def table_exists(self, table):
        with self._cursor() as cursor:
            return self._exists(cursor, table)

    def drop_table(self, table):
        with self._ddl_lock, self._cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(check_table(table))}")

    def close(self):
        if not self._pool.closed:
            self._pool.closeall()


# PostgreSQL array element types of the key types ``keyed`` takes.
_ARRAY_TYPES = {"int8": "smallint", "int16": "smallint", "int32": "integer", "int64": "bigint",
                "uint8": "smallint", "uint16": "integer", "uint32": "bigint", "uint64": "numeric",
                "string": "text", "large_string": "text", "double": "double precision", "float": "real"}


def _csv_bytes(batch):
    """COPY input for a record batch (None for None)."""
    if batch is None:
        return None
    buffer = io.BytesIO()
    csv.write_csv(batch, buffer, csv.WriteOptions(include_header=False, batch_size=BATCH_ROWS))
    buffer.seek(0)
    return buffer


def _read_csv(buffer, columns):
    """The Arrow table of ``COPY ... TO STDOUT WITH (FORMAT csv)`` output."""
    schema = pa.schema([(f"c{i}", ARROW_TYPES.get(oid, pa.string())) for i, (_, oid) in enumerate(columns)])
    if buffer.tell() == 0:
        return schema.empty_table().rename_columns([name for name, _ in columns])
    text_types = {field.name: pa.string() if field.type == pa.binary() else field.type for field in schema}
    has_text = any(pa.types.is_string(t) for t in text_types.values())
    buffer.seek(0)
    table = csv.read_csv(
        buffer,
        read_options=csv.ReadOptions(column_names=schema.names, block_size=1 << 24),
        # a one-column row holding NULL is an empty line
        parse_options=csv.ParseOptions(newlines_in_values=has_text, ignore_empty_lines=False),
        convert_options=csv.ConvertOptions(
            column_types=text_types, null_values=[""], true_values=["t"], false_values=["f"],
            strings_can_be_null=True, quoted_strings_can_be_null=False,
        ),
    )
    for index, field in enumerate(schema):
        if field.type == pa.binary():
            table = table.set_column(index, field.name, _hex_to_binary(table.column(index)))
    return table.rename_columns([name for name, _ in columns])


def _offsets_and_data(array):
    """Rebased int64 offsets and the uint8 data of a large (string|binary) array."""
    offsets = np.frombuffer(array.buffers()[1], np.int64)[array.offset:array.offset + len(array) + 1]
    data = array.buffers()[2]
    data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    return offsets - offsets[0], data[offsets[0]:offsets[-1]]


def _bytea_as_text(rows):
    """Binary columns replaced by PostgreSQL hex text ``\\x..`` (vectorised; NULLs kept)."""
    for index, field in enumerate(rows.schema):
        if field.type != pa.binary():
            continue
        array = rows.column(index).cast(pa.large_binary()).combine_chunks()
        offsets, data = _offsets_and_data(array)
        count = len(array)
        starts = 2 * (np.arange(count) + offsets[:-1])  # each value grows by "\x" and 2 digits/byte
        text = np.empty(2 * (count + len(data)), np.uint8)
        text[starts], text[starts + 1] = ord("\\"), ord("x")
        digits = 2 * (np.arange(len(data)) + np.repeat(np.arange(count), np.diff(offsets)) + 1)
        text[digits], text[digits + 1] = HEX_DIGITS[data >> 4], HEX_DIGITS[data & 15]
        new_offsets = 2 * (np.arange(count + 1) + offsets)
        strings = pa.Array.from_buffers(
            pa.large_string(), count, [None, pa.py_buffer(new_offsets), pa.py_buffer(text)]
        )
        column = pc.if_else(array.is_valid(), strings, pa.scalar(None, pa.large_string()))
        rows = rows.set_column(index, field.name, column)
    return rows


def _hex_to_binary(column):
    """PostgreSQL hex text ``\\x..`` back to binary (vectorised; NULLs kept)."""
    array = column.cast(pa.large_string()).combine_chunks()
    offsets, data = _offsets_and_data(array)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    starts = offsets[:-1][valid]  # NULLs are empty, every other value starts with "\x"
    payload = np.ones(len(data), bool)
    payload[starts] = payload[starts + 1] = False
    digits = HEX_VALUES[data[payload]]
    raw = (digits[0::2] << 4) | digits[1::2]
    new_offsets = (offsets - 2 * np.concatenate([[0], np.cumsum(valid)])) // 2
    binary = pa.Array.from_buffers(
        pa.large_binary(), len(array), [None, pa.py_buffer(new_offsets), pa.py_buffer(raw)]
    )
    return pc.if_else(array.is_valid(), binary, pa.scalar(None, pa.large_binary())).cast(pa.binary())
