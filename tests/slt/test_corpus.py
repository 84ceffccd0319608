"""The differential correctness corpus (DESIGN.md section 7): every record of ``tests/slt/*.slt``
runs on a sharded instance with 4 workers, on DuckDB workers and on PostgreSQL workers, and its
result must match the same query on one unsharded DuckDB holding the same rows (the SQL of
``Engine.reference_sql``); error records must raise a ``UserError`` naming the construct.
PostgreSQL at 127.0.0.1:5432 is required (the PostgreSQL tests fail, never skip, without it)."""

import decimal
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import psycopg2
import psycopg2.extensions
import pyarrow as pa
import pytest

import qserv
from qserv.errors import UserError
from qserv.instance import init_instance
from qserv.meta.catalog import active_workers
from qserv.meta.snapshot import WorkerRef
from qserv.sql.worker_functions import function_sql

sys.path.insert(0, str(Path(__file__).parent))  # tests run with --import-mode=importlib
from dataset import build_sharded, build_unsharded  # noqa: E402
from slt_format import SltFormatError, load_corpus, parse_text  # noqa: E402

HERE = Path(__file__).parent
ABSOLUTE_TOLERANCE = 1e-12
SORT_DIGITS = 9  # significant digits of floats in the row-sort key

try:
    RECORDS, CORPUS_ERROR = load_corpus(HERE), None
except SltFormatError as error:  # reported by test_corpus_parses, not as a collection error
    RECORDS, CORPUS_ERROR = [], error
QUERIES = [r for r in RECORDS if r.kind == "query"]
ERRORS = [r for r in RECORDS if r.kind == "error"]


@pytest.fixture(scope="module", params=["duckdb", "postgres", "duckdb-worker-down", "postgres-worker-down"])
def engine(request, tmp_path_factory):
    """A fresh instance with 4 workers of the parametrised backend holding the dataset. The
    ``-worker-down`` variants store every chunk twice (replication 2) and then lose one worker for
    good before the first query (its DuckDB file locked by another process, or its PostgreSQL
    database refusing connections): every answer must come from the replicas, complete."""
    backend, _, down = request.param.partition("-")
    path = tmp_path_factory.mktemp(f"slt-{request.param}")
    if backend == "postgres":
        factory = request.getfixturevalue("new_postgres_database")
        init_instance(path, backend="postgres", worker_dsns=[factory() for _ in range(4)])
    else:
        init_instance(path, workers=4)
    with qserv.open(path) as builder:
        build_sharded(builder, replication=2 if down else 1)
        with builder.store.session() as session:
            second = active_workers(session)[1]
            lost = WorkerRef(second.id, second.name, second.backend, builder.pool.location(second)) if down else None
    outage = WorkerOutage(lost) if lost else None
    opened = qserv.open(path)
    try:
        yield opened
    finally:
        opened.close()
        if outage:
            outage.end()


class WorkerOutage:
    """Makes a worker unreachable for the engine until ``end()``."""

    def __init__(self, worker):
        self.worker = worker
        if worker.backend == "duckdb":  # another process holds the file's write lock
            self.holder = subprocess.Popen(
                [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                 "sys.stdin.read()", worker.location], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert self.holder.stdout.readline().strip() == "held"
        else:
            self._admin(f'ALTER DATABASE "{self._dbname()}" ALLOW_CONNECTIONS false')

    def _dbname(self):
        return psycopg2.extensions.parse_dsn(self.worker.location)["dbname"]

    @staticmethod
    def _admin(statement):
        connection = psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def end(self):
        if self.worker.backend == "duckdb":
            self.holder.communicate("")
        else:
            self._admin(f'ALTER DATABASE "{self._dbname()}" ALLOW_CONNECTIONS true')


@pytest.fixture(scope="module")
def reference():
    """One unsharded in-memory DuckDB with the same rows and the worker functions."""
    connection = duckdb.connect()
    build_unsharded(connection)
    for statement in function_sql("duckdb"):
        connection.execute(statement)
    yield connection
    connection.close()


# -- comparison ---------------------------------------------------------------------------------
def type_letter(arrow_type):
    """The record letter of an Arrow type (I, R, T, B), or its name when it has none."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_integer(arrow_type) or (pa.types.is_decimal(arrow_type) and arrow_type.scale == 0):
        return "I"  # SUM of integers is a HUGEINT (DuckDB) or NUMERIC (PostgreSQL)
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "R"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or (
            hasattr(pa.types, "is_string_view") and pa.types.is_string_view(arrow_type)):
        return "T"
    if pa.types.is_boolean(arrow_type):
        return "B"
    return str(arrow_type)


def _value(value, letter):
    if value is None:
        return None
    if letter == "R":
        return float(value)
    if letter == "I" and isinstance(value, decimal.Decimal):
        return int(value)
    return value


def rows_of(table, types):
    columns = [[_value(v, letter) for v in column.to_pylist()] for column, letter in zip(table.columns, types)]
    return [list(row) for row in zip(*columns)] if columns else []


def _sort_key(row):
    key = []
    for value in row:
        if value is None:
            key.append((0, 0))
        elif isinstance(value, float) and math.isnan(value):
            key.append((3, 0))
        elif isinstance(value, (bool, int, float)):
            key.append((1, float(f"{float(value):.{SORT_DIGITS}g}")))
        else:
            key.append((2, str(value)))
    return key


def same_value(got, want, letter, tolerance):
    if got is None or want is None:
        return got is None and want is None
    if letter == "R":
        if math.isnan(got) or math.isnan(want):
            return math.isnan(got) and math.isnan(want)
        return math.isclose(got, want, rel_tol=tolerance, abs_tol=ABSOLUTE_TOLERANCE)
    return got == want


def compare(record, got, expected):
    """Assert that the engine's result ``got`` matches ``expected`` as ``record`` says."""
    where = f"{record.id}\n{record.sql}"
    for name, table in (("engine", got), ("reference", expected)):
        letters = "".join(type_letter(field.type) for field in table.schema)
        assert letters == record.types, (
            f"{where}\n{name} result column types {letters} ({table.schema.types}), "
            f"the record says {record.types}")
    assert got.num_rows == expected.num_rows, (
        f"{where}\nengine returned {got.num_rows} rows, the unsharded reference {expected.num_rows}")
    got_rows, want_rows = rows_of(got, record.types), rows_of(expected, record.types)
    if record.sort == "rowsort":
        got_rows.sort(key=_sort_key)
        want_rows.sort(key=_sort_key)
    for index, (got_row, want_row) in enumerate(zip(got_rows, want_rows)):
        same = all(same_value(g, w, letter, record.tol)
                   for g, w, letter in zip(got_row, want_row, record.types))
        assert same, (f"{where}\nrow {index} ({record.sort}) differs (tol={record.tol}):\n"
                      f"  engine:    {got_row}\n  reference: {want_row}")


# -- the corpus -------------------------------------------------------------------------------
def test_corpus_parses():
    assert CORPUS_ERROR is None, str(CORPUS_ERROR)
    assert sorted(p.name for p in HERE.glob("*.slt")), "no .slt files"


def test_corpus_size_and_unique_ids():
    assert len(RECORDS) >= 150, f"the corpus has {len(RECORDS)} records, at least 150 are required"
    assert len(ERRORS) >= 20
    ids = [r.id for r in RECORDS]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("record", QUERIES, ids=[r.id for r in QUERIES])
def test_query(engine, reference, record):
    got = engine.query(record.sql, lang=record.lang, db=record.db)
    reference_sql = engine.reference_sql(record.sql, lang=record.lang, db=record.db)
    expected = reference.sql(reference_sql).to_arrow_table()
    compare(record, got, expected)


@pytest.mark.parametrize("record", ERRORS, ids=[r.id for r in ERRORS])
def test_error(engine, record):
    with pytest.raises(UserError) as raised:
        engine.query(record.sql, lang=record.lang, db=record.db)
    message = str(raised.value)
    assert record.error_substring.lower() in message.lower(), (
        f"{record.id}\n{record.sql}\nthe error {type(raised.value).__name__}: {message!r} does not "
        f"contain {record.error_substring!r}")


# -- the parser -------------------------------------------------------------------------------
def test_parser_reads_both_record_kinds():
    text = ("# a comment\n"
            "query IRT nosort lang=qserv tol=1e-6\n"
            "SELECT objectId, ra, name\n"
            "# inside\n"
            "FROM sky.Object ORDER BY objectId LIMIT 3\n"
            "\n"
            "error db=none\n"
            "DELETE FROM Object\n"
            "~ only SELECT\n")
    query, error = parse_text(text, "x.slt")
    assert (query.kind, query.types, query.sort, query.lang, query.db, query.tol, query.line) == (
        "query", "IRT", "nosort", "qserv", "sky", 1e-6, 2)
    assert query.sql == "SELECT objectId, ra, name\nFROM sky.Object ORDER BY objectId LIMIT 3"
    assert (error.kind, error.sql, error.error_substring, error.lang, error.db, error.line) == (
        "error", "DELETE FROM Object", "only SELECT", "adql", None, 7)
    assert query.id == "x.slt:2"


@pytest.mark.parametrize("text, line, message", [
    ("query\nSELECT 1\n", 1, "result column types"),
    ("query IX\nSELECT 1\n", 1, "result column types"),
    ("query I rowsort lang=sql\nSELECT 1\n", 1, "lang must be"),
    ("query I tol=abc\nSELECT 1\n", 1, "tol must be a number"),
    ("query I sorted\nSELECT 1\n", 1, "unexpected word"),
    ("\n\nquery I\n", 3, "no query text"),
    ("query I\nSELECT 1\n~ oops\n", 3, "use an 'error' record"),
    ("error\nSELECT 1\n", 2, "must end with a line '~"),
    ("error\nSELECT 1\n~ \n", 3, "must end with a line '~"),
    ("error\n~ syntax error\n", 1, "no query text"),
    ("select 1\n", 1, "starts with 'query' or 'error'"),
])
def test_parser_rejects_malformed_records(text, line, message):
    with pytest.raises(SltFormatError) as raised:
        parse_text("query I\nSELECT 1\n\n# padding\n" + text, "bad.slt")
    assert raised.value.file == "bad.slt" and raised.value.line == line + 4
    assert str(raised.value).startswith(f"bad.slt:{line + 4}: ") and message in str(raised.value)
