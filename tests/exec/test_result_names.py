"""Engine.query on both backends (issue 13, item 9): unaliased computed columns are named as the
user wrote them; director ids absent from the index are answered without asking a worker. Values
are checked against the same query on one unsharded DuckDB (``Engine.reference_sql``)."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.sql.worker_functions import function_sql

ROWS = 3000


def _objects():
    rng = np.random.default_rng(11)
    return pa.table({"objectId": np.arange(ROWS, dtype=np.int64), "ra": rng.uniform(0, 360, ROWS),
                     "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, ROWS))), "mag": rng.normal(20, 1, ROWS)})


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"names-{request.param}")
    new_instance(home, request.param, 3)
    columns = [Column("objectId", "long", False), Column("ra", "double", False), Column("decl", "double", False),
               Column("mag", "double")]
    with qserv.open(home) as opened:
        opened.create_database("sky", chunk_order=4, subchunk_order=7, overlap_arcsec=30.0)
        opened.create_table("sky.Object", TableSpec("director", columns, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        opened.ingest("sky.Object", [_objects()])
        yield opened


@pytest.fixture(scope="module")
def reference():
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA sky")
    connection.register("objects", _objects())
    connection.execute('CREATE TABLE sky."Object" AS SELECT * FROM objects')
    for statement in function_sql("duckdb"):
        connection.execute(statement)
    yield connection
    connection.close()


def expected(engine, reference, text, lang="adql"):
    return reference.sql(engine.reference_sql(text, lang=lang)).to_arrow_table()


@pytest.mark.parametrize("text, lang, names", [
    ("SELECT COUNT(*) FROM sky.Object", "adql", ["COUNT(*)"]),
    ("SELECT count( * ), COUNT(objectId) AS n FROM sky.Object", "adql", ["count( * )", "n"]),
    ("SELECT COUNT(*), SUM(mag) FROM sky.Object WHERE mag > 21", "qserv", ["COUNT(*)", "SUM(mag)"]),
    ("SELECT TOP 3 objectId, mag*2, DISTANCE(POINT(ra, decl), POINT(10, 20)) FROM sky.Object ORDER BY objectId",
     "adql", ["objectId", "mag*2", "DISTANCE(POINT(ra, decl), POINT(10, 20))"]),
    ("SELECT MAX(mag) - MIN(mag), COUNT(*)\n  FROM sky.Object\n GROUP BY objectId % 3 ORDER BY 1", "adql",
     ["MAX(mag) - MIN(mag)", "COUNT(*)"]),
])
def test_unaliased_expressions_are_named_as_written(engine, reference, text, lang, names):
    got = engine.query(text, lang=lang)
    assert got.column_names == names
    want = expected(engine, reference, text, lang)
    assert got.num_rows == want.num_rows > 0
    assert [list(map(_rounded, c.to_pylist())) for c in got.columns] == \
        [list(map(_rounded, c.to_pylist())) for c in want.columns]


def _rounded(value):
    return round(value, 9) if isinstance(value, float) else value


@pytest.mark.parametrize("template", [
    "SELECT objectId, mag FROM sky.Object WHERE objectId IN ({ids})",
    "SELECT COUNT(*), MAX(mag), SUM(objectId) FROM sky.Object WHERE objectId IN ({ids})",
    "SELECT objectId % 2, COUNT(*) FROM sky.Object WHERE objectId IN ({ids}) GROUP BY objectId % 2",
    "SELECT COUNT(*) FROM sky.Object WHERE objectId IN ({ids}) AND CONTAINS(POINT(ra, decl), CIRCLE(10, 10, 5)) = 1",
])
def test_absent_director_ids_ask_no_worker(engine, reference, template, monkeypatch):
    text = template.format(ids="-1, 123456789")
    explained = engine.explain(text)
    assert "IN (NULL)" not in explained and "no worker reads" in explained
    answered = engine.query(template.format(ids="5, 6"))  # the same query read from the workers

    def no_worker(*_):
        raise AssertionError("a worker was asked")

    monkeypatch.setattr(engine.execution.workers, "open", no_worker)
    got = engine.query(text)
    assert got.schema == answered.schema
    want = expected(engine, reference, text)
    assert [list(r.values()) for r in got.to_pylist()] == [list(r.values()) for r in want.to_pylist()]


def test_present_ids_still_read_their_chunks(engine, reference):
    text = "SELECT objectId, mag FROM sky.Object WHERE objectId IN (-1, 5, 17) ORDER BY objectId"
    assert "no worker reads" not in engine.explain(text)
    assert engine.query(text).to_pylist() == expected(engine, reference, text).to_pylist()
    assert [row["objectId"] for row in engine.query(text).to_pylist()] == [5, 17]
