"""Attacks on the query path, on both backends (issue 14, item 1): user text that would turn
uploaded values into SQL, table functions and functions that read files or leak internals, and
the second layers (locked DuckDB configuration without external access, PostgreSQL statements run
read-only under a role that can only SELECT the catalog tables). Every attack must fail; innocent
literals that look like internal names come back unchanged."""

import io

import numpy as np
import pyarrow as pa
import pytest
from astropy.io.votable import from_table, parse_single_table
from astropy.table import Table

from qserv.api.app import create_app
from qserv.errors import UserError, WorkerQueryError
from qserv.merge.czar import Czar

from .conftest import sky_objects

OBJECTS = 2000
SECRET_FILE = "/etc/passwd"
SECRET_MARK = "root:"  # the first line of /etc/passwd
CONE = "CONTAINS(POINT(ra, decl), CIRCLE(40, 10, 12)) = 1"


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, open_sky):
    return open_sky(request.param, sky_objects(OBJECTS, seed=14))


def _chars(text):
    """``text`` as SQL without quotes (the upload's quotes are doubled, so they cannot be used)."""
    return "||".join(f"chr({ord(c)})" for c in text)


def _reader(backend):
    """A SQL expression reading the secret file on ``backend`` (pg_read_file needs a superuser)."""
    if backend == "duckdb":
        return f"(SELECT string_agg(content, chr(10)) FROM read_text({_chars(SECRET_FILE)}))"
    return f"pg_read_file({_chars(SECRET_FILE)})"


def _stacked(backend, statement):
    """An upload value that, pasted into a string literal of the worker statement, runs
    ``statement`` before a harmless SELECT (PostgreSQL statements are wrapped in a subquery)."""
    if backend == "duckdb":
        return f"' AS _qserv_c0; {statement}; SELECT 1 AS _qserv_c0 --"
    return f"' AS _qserv_c0) AS q; {statement}; SELECT * FROM (SELECT 1 AS _qserv_c0 --"


LITERAL_QUERY = ("SELECT '\"_qserv_inline_0\"' AS x FROM sky.Object AS o "
                 "JOIN TAP_UPLOAD.t AS u ON o.objectId = u.id")


def _upload(value, object_id=5):
    """An upload whose first column holds ``value`` (the VALUES text starts with it)."""
    return {"t": pa.table({"s": [value], "id": pa.array([object_id], pa.int64())})}


def _literal_survives(engine, query, uploads, literal, rows):
    result = engine.query(query, uploads=uploads)
    assert result.column("x").to_pylist() == [literal] * rows


def test_upload_values_never_become_sql(engine):
    value = f" || {_reader(engine.backend)} AS _qserv_c0 --"
    _literal_survives(engine, LITERAL_QUERY, _upload(value), '"_qserv_inline_0"', 1)


@pytest.mark.parametrize("case", [False, True])
def test_placeholder_names_in_literals_stay_literals(engine, case):
    uploads = _upload(f"' || {_reader(engine.backend)} || '")
    literal = '"_qserv_inline_0"'
    shown = f"CASE WHEN u.id = 5 THEN '{literal}' END" if case else f"'{literal}'"
    query = f"SELECT {shown} AS x FROM TAP_UPLOAD.t AS u JOIN sky.Object AS o ON o.objectId = u.id"
    _literal_survives(engine, query, uploads, literal, 1)


def test_stacked_statements_through_an_upload_do_nothing(engine, tmp_path):
    if engine.backend == "duckdb":
        statements = [f"COPY (SELECT 42 AS a) TO $${tmp_path / 'copied.csv'}$$",
                      f"ATTACH $${tmp_path / 'attached.duckdb'}$$ AS evil",
                      f"LOAD $${tmp_path / 'evil.duckdb_extension'}$$",
                      f"INSTALL $${tmp_path / 'evil.duckdb_extension'}$$",
                      "CREATE TABLE evil (a INTEGER)"]
    else:
        statements = ["CREATE TABLE evil (a INTEGER)",
                      "COPY (SELECT 42) TO PROGRAM $$true$$"]
    (tmp_path / "evil.duckdb_extension").write_bytes(b"not an extension")
    for statement in statements:
        _literal_survives(engine, LITERAL_QUERY, _upload(_stacked(engine.backend, statement)),
                          '"_qserv_inline_0"', 1)
    assert not (tmp_path / "copied.csv").exists() and not (tmp_path / "attached.duckdb").exists()
    with pytest.raises(UserError):
        engine.query("SELECT * FROM sky.evil")


def test_innocent_chunk_placeholder_literals_are_unchanged(engine):
    expected = engine.query(f"SELECT COUNT(*) AS n FROM sky.Object WHERE {CONE}").column("n")[0].as_py()
    assert 0 < expected < OBJECTS
    for literal in ['"_qserv_batch_chunks"', '"_qserv_chunk" IN ("_qserv_batch_chunks")', "\"_qserv_inline_0\""]:
        cone = engine.query(f"SELECT '{literal}' AS x FROM sky.Object WHERE {CONE}")
        assert cone.column("x").to_pylist() == [literal] * expected
        every = engine.query(f"SELECT '{literal}' AS x, objectId FROM sky.Object")  # no chunk filter
        assert every.column("x").to_pylist() == [literal] * OBJECTS


def test_uploaded_values_that_look_like_placeholders_are_data(engine):
    values = ['"_qserv_batch_chunks"', '"_qserv_inline_0"', "' || chr(65) || '", "'; --"]
    upload = {"t": pa.table({"s": values, "id": pa.array([1, 2, 3, 4], pa.int64())})}
    result = engine.query("SELECT u.s, o.objectId FROM TAP_UPLOAD.t AS u JOIN sky.Object AS o "
                          "ON o.objectId = u.id ORDER BY o.objectId", uploads=upload)
    assert result.column("s").to_pylist() == values


REFUSED_FUNCTIONS = [
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT o.objectId FROM sky.Object AS o, read_text('/etc/passwd') AS f", "read_text"),
    ("SELECT objectId FROM sky.Object WHERE name IN (SELECT content FROM read_text('/etc/passwd'))", "read_text"),
    ("SELECT (SELECT COUNT(*) FROM read_parquet('/x.parquet')) AS n FROM sky.Object", "read_parquet"),
    ("SELECT * FROM query('SELECT 42')", "query"),
    ("SELECT version() AS v FROM sky.Object", "version"),
    ("SELECT current_setting('threads') AS v FROM sky.Object", "current_setting"),
    ("SELECT current_query() AS v FROM sky.Object", "current_query"),
    ("SELECT pg_read_file('/etc/passwd') AS v FROM sky.Object", "pg_read_file"),
    ("SELECT objectId FROM sky.Object WHERE pg_ls_dir('.') IS NOT NULL", "pg_ls_dir"),
    ("SELECT pg_sleep(1) AS v FROM sky.Object WHERE objectId < 2", "pg_sleep"),
    ("SELECT getenv('HOME') AS v FROM sky.Object", "getenv"),
]


@pytest.mark.parametrize("lang", ["adql", "qserv"])
@pytest.mark.parametrize(("query", "function"), REFUSED_FUNCTIONS)
def test_functions_outside_the_allowlist_are_refused_by_name(engine, query, function, lang):
    with pytest.raises(UserError) as caught:
        engine.query(query, lang=lang)
    message = str(caught.value).lower()
    assert function in message and "not allowed" in message and "column" in message


@pytest.mark.parametrize("lang", ["adql", "qserv"])
@pytest.mark.parametrize("statement", [f"COPY sky.Object TO '{SECRET_FILE}.csv'", "ATTACH '/tmp/x.duckdb'",
                                       "INSTALL spatial", "LOAD spatial"])
def test_statements_other_than_select_are_refused(engine, statement, lang):
    with pytest.raises(UserError):
        engine.query(statement, lang=lang)


def test_tap_sync_upload_injection(engine):
    client = create_app({"engine": engine, "cleanup_interval_s": 3600}).test_client()
    upload = Table({"s": [f" || {_reader(engine.backend)} AS _qserv_c0 --"], "id": np.array([5], np.int64)})
    buffer = io.BytesIO()
    from_table(upload).to_xml(buffer, tabledata_format="binary2")
    response = client.post("/tap/sync", data={
        "LANG": "ADQL", "FORMAT": "votable", "QUERY": LITERAL_QUERY, "UPLOAD": "t,param:table1",
        "table1": (io.BytesIO(buffer.getvalue()), "t.xml")})
    assert SECRET_MARK.encode() not in response.data
    assert response.status_code == 200, response.data
    assert list(parse_single_table(io.BytesIO(response.data)).to_table()["x"]) == ['"_qserv_inline_0"']


# -- second layers: even SQL that reached a worker or the czar cannot leave the catalog ----------

@pytest.fixture
def worker(engine):
    with engine.store.session() as session:
        snapshot = engine._snapshots.read(session)
    return engine.execution.workers.open(next(iter(snapshot.workers.values())))


def test_worker_statements_cannot_read_files_or_write(worker, tmp_path):
    if worker.backend == "duckdb":
        attacks = [f"SELECT * FROM read_text('{SECRET_FILE}')", f"SELECT * FROM read_csv('{SECRET_FILE}')",
                   "SELECT * FROM glob('/etc/*')"]
        statements = [f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'", f"ATTACH '{tmp_path / 'y.duckdb'}'",
                      f"INSTALL '{tmp_path / 'evil.duckdb_extension'}'", "SET enable_external_access = true"]
    else:
        attacks = [f"SELECT pg_read_file('{SECRET_FILE}')", "SELECT * FROM pg_ls_dir('.')",
                   "SELECT current_setting('data_directory')", f"SELECT lo_import('{SECRET_FILE}')",
                   "SELECT 1) AS q; COPY (SELECT 1) TO PROGRAM 'true'; SELECT * FROM (SELECT 1"]
        statements = []
    count = 'SELECT COUNT(*) AS n FROM "sky__Object"'
    rows = worker.query(count).column(0)[0].as_py()
    for sql in attacks:
        with pytest.raises(WorkerQueryError):
            worker.query(sql)
    for sql in statements:
        with pytest.raises(WorkerQueryError):
            worker.query(f"{sql}; SELECT 1")
    assert not worker.table_exists("evil")
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.duckdb").exists()
    assert rows > 0 and worker.query(count).column(0)[0].as_py() == rows


def test_worker_statements_are_read_only(engine, worker):
    if worker.backend == "duckdb":
        attacks = ["CREATE TABLE evil (a INTEGER); SELECT 1", 'DELETE FROM "sky__Object"; SELECT 1']
    else:
        attacks = ['SELECT 1) AS q; DELETE FROM "sky__Object"; SELECT * FROM (SELECT 1',
                   "SELECT 1) AS q; CREATE TABLE evil (a INTEGER); SELECT * FROM (SELECT 1"]
        objects = "SELECT COUNT(*) FROM pg_largeobject_metadata"
        before = worker.query(objects).column(0)[0].as_py()
        worker.query("SELECT lo_create(0)")  # allowed in a read-only transaction, but rolled back
        assert worker.query(objects).column(0)[0].as_py() == before
    for sql in attacks:
        with pytest.raises(WorkerQueryError):
            worker.query(sql)
    assert not worker.table_exists("evil")
    assert engine.query("SELECT COUNT(*) AS n FROM sky.Object").column("n")[0].as_py() == OBJECTS


def test_czar_cannot_read_files_or_change_settings(tmp_path):
    czar = Czar()
    try:
        for sql in [f"SELECT * FROM read_text('{SECRET_FILE}')", f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
                    f"ATTACH '{tmp_path / 'y.duckdb'}'", "SET enable_external_access = true; SELECT 1"]:
            with pytest.raises(Exception) as caught:
                czar.run(sql, {})
            assert SECRET_MARK not in str(caught.value)
        setting = czar.run("SELECT current_setting('enable_external_access') AS v", {})
        assert setting.column("v").to_pylist() == [False]
        assert czar.run("SELECT SUM(a) AS s FROM r", {"r": pa.table({"a": [1, 2]})}).column("s")[0].as_py() == 3
    finally:
        czar.close()
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.duckdb").exists()


def test_a_nul_character_in_the_query_is_refused(engine):
    with pytest.raises(UserError, match="NUL"):
        engine.query("SELECT objectId FROM sky.Object WHERE name = 'a\x00b'")
