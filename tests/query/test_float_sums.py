"""SUM and AVG of single-precision columns: in double precision on every backend, as one unsharded
DuckDB table computes them (PostgreSQL would sum REAL partials as REAL and lose digits)."""

import math

import numpy as np
import pyarrow as pa
import pytest
import sqlglot

import qserv
from qserv.meta.admin import TableSpec
from qserv.query.float_sums import widen_float_sums
from qserv.query.tables import Partitioning, TableInfo
from qserv.schema.columns import Column

COLUMNS = [Column("id", "long", False), Column("ra", "double", False), Column("decl", "double", False),
           Column("f", "float"), Column("d", "double"), Column("n", "long")]
INFO = TableInfo(database="sky", name="T", kind="director", columns=tuple(COLUMNS),
                 partitioning=Partitioning(3, 5, 60.0), id_column="id", ra_column="ra", dec_column="decl")


def _widened(sql):
    return widen_float_sums(sqlglot.parse_one(sql, read="duckdb"), {"sky.T": INFO}).sql("duckdb")


def test_only_aggregates_of_float_columns_are_widened():
    assert _widened("SELECT SUM(f), AVG(t.f * 2), SUM(d), AVG(n), MAX(f) FROM sky.T AS t") == (
        "SELECT SUM(CAST(f AS DOUBLE)), AVG(CAST(t.f * 2 AS DOUBLE)), SUM(d), AVG(n), MAX(f) FROM sky.T AS t")
    assert _widened(_widened("SELECT SUM(f) FROM sky.T")) == "SELECT SUM(CAST(f AS DOUBLE)) FROM sky.T"
    # a column of another table of the same name, or of a derived table, is left alone
    assert _widened("SELECT SUM(u.f) FROM sky.T AS t, (SELECT 1 AS f) AS u") == \
        "SELECT SUM(u.f) FROM sky.T AS t, (SELECT 1 AS f) AS u"


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"float-sums-{request.param}")
    new_instance(home, request.param, 2)
    rows = 3001
    # one huge value among many ones, all in one chunk: REAL sums drop the ones
    f = np.ones(rows, dtype=np.float32)
    f[0] = 2.0 ** 24
    with qserv.open(home) as opened:
        opened.create_database("sky", chunk_order=3, subchunk_order=5, overlap_arcsec=60.0)
        opened.create_table("sky.T", TableSpec("director", COLUMNS, id_column="id", ra_column="ra", dec_column="decl"))
        opened.ingest("sky.T", [pa.table({
            "id": np.arange(rows, dtype=np.int64), "ra": np.full(rows, 10.0), "decl": np.full(rows, 20.0),
            "f": f, "d": f.astype(np.float64), "n": np.arange(rows, dtype=np.int64)})])
        yield opened, f.astype(np.float64)


def test_sums_of_float_columns_keep_every_digit(engine):
    opened, exact = engine
    answer = opened.query("SELECT SUM(f) AS s, AVG(f) AS a, SUM(n) AS k FROM sky.T").to_pylist()[0]
    assert answer["s"] == exact.sum() == 2.0 ** 24 + 3000
    assert math.isclose(answer["a"], exact.mean(), rel_tol=1e-15)
    assert answer["k"] == 3001 * 3000 // 2 and isinstance(answer["k"], int)
