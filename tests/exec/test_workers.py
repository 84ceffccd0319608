"""Worker backends (DuckDB, PostgreSQL): the same behaviour checked on both."""

from concurrent.futures import ThreadPoolExecutor
import datetime

import numpy as np
import pyarrow as pa
import pytest

from qserv.errors import SchemaMismatchError, UserError, WorkerQueryError, WorkerUnavailableError
from qserv.exec.backends import open_worker
from qserv.exec.postgres_worker import READER_ROLE, PostgresWorker
from qserv.storage import SYSTEM_COLUMNS
from qserv.schema.columns import Column, SchemaError
from qserv.schema.types import arrow_type

RNG_SEED = 20240611
EVERY_TYPE = [
    Column("id", "long", nullable=False),
    Column("flag", "boolean"),
    Column("tiny", "byte"),
    Column("small", "short"),
    Column("medium", "int"),
    Column("big", "long"),
    Column("single", "float"),
    Column("ra_deg", "double"),
    Column("code", "char", length=4),
    Column("Name", "string", length=64),
    Column("label", "unicode"),
    Column("order", "text"),  # a reserved word: every identifier must be quoted
    Column("blob", "binary"),
    Column("seen", "timestamp"),
]
SMALL = [Column("id", "long", nullable=False), Column("value", "double")]


def system_arrays(count, txn=1, contrib=1):
    return [
        pa.array(np.full(count, 7, np.int64)),
        pa.array(np.full(count, -1, np.int64)),
        pa.array(np.zeros(count, bool)),
        pa.array(np.full(count, txn, np.int64)),
        pa.array(np.full(count, contrib, np.int64)),
        pa.nulls(count, pa.int64()),  # _qserv_deleted
    ]


def make_rows(columns, arrays):
    """A load-ready table: user arrays (typed by the columns) then the system columns."""
    count = len(arrays[0])
    names = [column.name for column in columns] + [name for name, _ in SYSTEM_COLUMNS]
    typed = [pa.array(values, arrow_type(column)) for column, values in zip(columns, arrays)]
    return pa.table(typed + system_arrays(count), names=names)


def small_rows(count, txn=1, contrib=1, start=0):
    ids = np.arange(start, start + count, dtype=np.int64)
    names = ["id", "value"] + [name for name, _ in SYSTEM_COLUMNS]
    return pa.table([ids, ids * 0.5] + system_arrays(count, txn, contrib), names=names)


def random_floats(rng, count, dtype, bits):
    """Finite floats from uniformly random bit patterns (all exponents, subnormals included)."""
    values = rng.integers(np.iinfo(bits).min, np.iinfo(bits).max, count, dtype=bits).view(dtype)
    return np.where(np.isfinite(values), values, 1.0).astype(dtype)


def every_type_rows(random_count=500):
    rng = np.random.default_rng(RNG_SEED)
    i64, i32 = np.iinfo(np.int64), np.iinfo(np.int32)
    nan, inf = float("nan"), float("inf")
    f32 = np.finfo(np.float32)
    special = {
        "flag": [True, False, None, True, False, None, True, False, None, True, False, None],
        "tiny": [0, -128, 127, None, 1, -1, 5, 6, 7, 8, 9, 10],
        "small": [0, -32768, 32767, None, 1, -1, 5, 6, 7, 8, 9, 10],
        "medium": [0, i32.min, i32.max, None, 1, -1, 5, 6, 7, 8, 9, 10],
        "big": [0, i64.min, i64.max, None, i64.min + 1, i64.max - 1, 2**53 + 1, -(2**53) - 1, 1, -1, 2, 3],
        "single": [0.0, -0.0, nan, inf, -inf, None, float(f32.smallest_subnormal), float(f32.max),
                   float(-f32.max), float(np.float32(0.1)), float(np.float32(1 / 3)), 16777216.0],
        "ra_deg": [0.0, -0.0, nan, inf, -inf, None, 5e-324, 2.2250738585072014e-308,
                   1.7976931348623157e308, -1.7976931348623157e308, 0.1, 1 / 3],
        "code": ["", None, "abcd", "é∂😀x", "a", " b ", "NULL", "\\N", '"', ",", "x\ny", "z"],
        "Name": ["", None, "plain", 'quote " inside', "comma, inside", "new\nline", "cr\r\nlf",
                 "\\N", "NULL", "tab\there", "  padded  ", "''"],
        "label": ["", None, "épsilon Ω", "日本語", "emoji 😀🔭", "Ærøskøbing", "\u00a0nbsp", "ß",
                  "a\u0301", "\\x00", "∞", "Ελληνικά"],
        "order": ["", None, "x" * 10000, "end\n", "\n", '""', "a,b,c", "\\", "nul?", "ok", "é", "z"],
        "blob": [b"", None, b"\x00", b"\xff\x00\"\n,\\", bytes(range(256)), b"\\x41", b"abc",
                 b"\r\n", b"NULL", b"\x7f", b"\x80\x81", b"\x00\x00"],
        "seen": [datetime.datetime(1970, 1, 1), None, datetime.datetime(2024, 2, 29, 12, 34, 56, 789012),
                 datetime.datetime(9999, 12, 31, 23, 59, 59, 999999), datetime.datetime(1, 1, 1),
                 datetime.datetime(1900, 3, 1, 0, 0, 0, 1)] + [datetime.datetime(2000, 1, 1)] * 6,
    }
    count = len(special["flag"]) + random_count
    words = ["", "alpha", "béta", "ɣ", "δ,ε", 'ζ"η', "θ\nι"]
    random = {
        "flag": rng.integers(0, 2, random_count).astype(bool),
        "tiny": rng.integers(-128, 128, random_count),
        "small": rng.integers(-32768, 32768, random_count),
        "medium": rng.integers(i32.min, i32.max, random_count, endpoint=True),
        "big": rng.integers(i64.min, i64.max, random_count, endpoint=True),
        "single": random_floats(rng, random_count, np.float32, np.int32),
        "ra_deg": random_floats(rng, random_count, np.float64, np.int64),
        "code": [words[k][:4] for k in rng.integers(0, len(words), random_count)],
        "Name": [words[k] for k in rng.integers(0, len(words), random_count)],
        "label": [words[k] * 3 for k in rng.integers(0, len(words), random_count)],
        "order": [words[k] for k in rng.integers(0, len(words), random_count)],
        "blob": [rng.bytes(int(k)) for k in rng.integers(0, 40, random_count)],
        "seen": [datetime.datetime(2000, 1, 1) + datetime.timedelta(microseconds=int(k))
                 for k in rng.integers(0, 10**15, random_count)],
    }
    arrays = [np.arange(count)] + [
        list(special[column.name]) + list(random[column.name]) for column in EVERY_TYPE[1:]
    ]
    return make_rows(EVERY_TYPE, arrays)


def assert_same_column(name, expected, got):
    assert expected.is_null().equals(got.is_null()), f"{name}: NULLs differ"
    if pa.types.is_floating(expected.type):
        width = np.int32 if expected.type == pa.float32() else np.int64
        want = expected.to_numpy(zero_copy_only=False)
        have = got.to_numpy(zero_copy_only=False)
        nan = np.isnan(want)
        assert np.array_equal(nan, np.isnan(have)), f"{name}: NaNs differ"
        # Compare bit patterns: exact values, signed zeros, subnormals.
        want_bits = want[~nan].astype(expected.type.to_pandas_dtype()).view(width)
        have_bits = have[~nan].astype(expected.type.to_pandas_dtype()).view(width)
        assert np.array_equal(want_bits, have_bits), f"{name}: float values differ"
    else:
        assert expected.cast(got.type).to_pylist() == got.to_pylist(), f"{name}: values differ"


def count(worker, table, where="TRUE"):
    return worker.query(f'SELECT count(*) AS n FROM "{table}" WHERE {where}').column(0)[0].as_py()


def test_round_trip_of_every_datatype(worker, table):
    rows = every_type_rows()
    worker.ensure_table(table, EVERY_TYPE)
    worker.load(table, rows)
    got = worker.query(f'SELECT * FROM "{table}" ORDER BY "id"')
    assert got.column_names == rows.column_names
    assert got.num_rows == rows.num_rows
    for column in EVERY_TYPE:
        expected_type = arrow_type(column)
        if column.datatype == "byte" and worker.backend == "postgres":
            expected_type = pa.int16()  # PostgreSQL has no 8-bit integer
        assert got.schema.field(column.name).type == expected_type, column.name
    for name, datatype in SYSTEM_COLUMNS:
        assert got.schema.field(name).type == arrow_type(datatype), name
    for name in rows.column_names:
        assert_same_column(name, rows.column(name).combine_chunks(), got.column(name).combine_chunks())


def test_query_result_shapes(worker, table):
    worker.ensure_table(table, SMALL)
    empty = worker.query(f'SELECT "id", "value" AS v FROM "{table}"')
    assert empty.num_rows == 0
    assert empty.schema == pa.schema([("id", pa.int64()), ("v", pa.float64())])
    worker.load(table, small_rows(10))
    same_names = worker.query(f'SELECT "id", "id" FROM "{table}" WHERE "id" < 3 ORDER BY 1;')
    assert same_names.column_names == ["id", "id"]
    assert same_names.column(1).to_pylist() == [0, 1, 2]
    assert count(worker, table, '"value" > 2 -- trailing comment') == 5


def test_concurrent_loads_and_queries(worker, table):
    threads, batches, batch_rows = 8, 5, 2000
    worker.ensure_table(table, SMALL)

    def load_and_count(thread):
        seen = []
        for batch in range(batches):
            start = (thread * batches + batch) * batch_rows
            worker.load(table, small_rows(batch_rows, txn=thread, start=start))
            seen.append(count(worker, table, f'"_qserv_txn" = {thread}'))
            count(worker, table)  # concurrent reads of the whole table
        return seen

    with ThreadPoolExecutor(threads) as pool:
        seen = list(pool.map(load_and_count, range(threads)))
    expected = [batch_rows * (batch + 1) for batch in range(batches)]
    assert seen == [expected] * threads
    assert count(worker, table) == threads * batches * batch_rows
    distinct = worker.query(f'SELECT count(DISTINCT "id") AS n FROM "{table}"').column(0)[0].as_py()
    assert distinct == threads * batches * batch_rows


def test_delete_where_by_transaction(worker, table):
    worker.ensure_table(table, SMALL)
    worker.load(table, small_rows(300, txn=1))
    worker.load(table, small_rows(200, txn=2, contrib=5))
    worker.load(table, small_rows(50, txn=2, contrib=6))
    assert worker.delete_where(table, '"_qserv_txn" = 1') == 300
    assert worker.delete_where(table, '"_qserv_txn" = 1') == 0
    assert worker.delete_where(table, '"_qserv_txn" = 2 AND "_qserv_contrib" = 6') == 50
    assert count(worker, table) == 200
    assert count(worker, table, '"_qserv_contrib" = 5') == 200


def test_ensure_table_is_idempotent(worker, table):
    assert not worker.table_exists(table)
    worker.ensure_table(table, SMALL)
    worker.ensure_table(table, SMALL)
    assert worker.table_exists(table)
    worker.load(table, small_rows(3))
    worker.ensure_table(table, SMALL)
    assert count(worker, table) == 3
    with pytest.raises(SchemaMismatchError, match=worker.name):
        worker.ensure_table(table, [Column("id", "long"), Column("other", "double")])
    worker.drop_table(table)
    worker.drop_table(table)
    assert not worker.table_exists(table)


def test_load_with_mismatched_schema_is_refused(worker, table):
    worker.ensure_table(table, SMALL)
    rows = small_rows(4)
    with pytest.raises(SchemaMismatchError, match="columns"):
        worker.load(table, rows.select([1, 0, 2, 3, 4, 5, 6]))
    with pytest.raises(SchemaMismatchError, match="columns"):
        worker.load(table, rows.drop_columns(["value"]))
    fractional = rows.set_column(0, "id", pa.array([0.5, 1.0, 2.0, 3.0]))
    with pytest.raises(SchemaMismatchError, match="column types"):
        worker.load(table, fractional)
    assert count(worker, table) == 0
    worker.load(table, rows.set_column(0, "id", pa.array([0, 1, 2, 3], pa.int32())))  # lossless
    assert count(worker, table) == 4


def test_not_null_and_missing_tables(worker, table):
    worker.ensure_table(table, SMALL)
    rows = small_rows(2).set_column(0, "id", pa.array([1, None], pa.int64()))
    with pytest.raises(WorkerQueryError, match=worker.name):
        worker.load(table, rows)
    assert count(worker, table) == 0
    with pytest.raises(WorkerQueryError, match=worker.name):
        worker.load("testdb__missing", small_rows(1))
    with pytest.raises(WorkerQueryError, match=worker.name):
        worker.query("SELECT no_such_column FROM no_such_table")
    assert count(worker, table) == 0  # the worker still works after errors


def test_execute_and_names(worker, table):
    worker.execute(f'CREATE TABLE "{table}" ("x" INTEGER)')
    if worker.backend == "postgres":  # queries run as READER_ROLE: a table not made by ensure_table needs a grant
        worker.execute(f'GRANT SELECT ON "{table}" TO {READER_ROLE}')
    worker.execute(f'INSERT INTO "{table}" VALUES (1), (2)')
    assert worker.query(f'SELECT sum("x") AS s FROM "{table}"').column(0)[0].as_py() == 3
    with pytest.raises(SchemaError):
        worker.ensure_table("d" * 40 + "__" + "t" * 40, SMALL)
    with pytest.raises(SchemaError, match="duplicate"):
        worker.ensure_table(table + "x", [Column("a", "long"), Column("A", "long")])


def test_closed_worker_is_unavailable(worker):
    worker.close()
    with pytest.raises(WorkerUnavailableError, match=worker.name):
        worker.query("SELECT 1 AS one")


def test_bad_dsn_raises_unavailable_naming_the_worker():
    dsn = "host=127.0.0.1 port=1 user=postgres password=s3cret dbname=nothing connect_timeout=5"
    with pytest.raises(WorkerUnavailableError) as caught:
        PostgresWorker("w-bad", dsn)
    message = str(caught.value)
    assert "w-bad" in message and "port=1" in message and "s3cret" not in message
    assert caught.value.http_status == 503


def test_missing_database_raises_unavailable(pg_dsn):
    dsn = pg_dsn.replace("dbname=qserv_test_", "dbname=qserv_missing_")
    with pytest.raises(WorkerUnavailableError, match="w-gone.*qserv_missing_"):
        open_worker("w-gone", "postgres", dsn)


def test_unopenable_duckdb_file_raises_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(WorkerUnavailableError, match="w-file"):
        open_worker("w-file", "duckdb", blocker / "worker.duckdb")


def test_unknown_backend_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="mysql"):
        open_worker("w", "mysql", tmp_path / "x")
