"""A query sees the catalog as it was when it started: rows of a transaction begun after its start
stay hidden while it runs, even before that transaction is known to be pending (both backends;
full scan without a chunk list, cone with one, director-id lookup)."""

import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.exec.cancel import Cancellation
from qserv.exec.executor import QueryRun
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.storage import HiddenTransactions, visible_condition

COLUMNS = [Column("id", "long", False), Column("ra", "double", False), Column("decl", "double", False)]


def _rows(first, count):
    rng = np.random.default_rng(first)
    return pa.table({"id": np.arange(first, first + count, dtype=np.int64), "ra": rng.uniform(0, 40, count),
                     "decl": rng.uniform(-20, 20, count)})


def test_the_visible_condition_hides_newer_transactions():
    assert visible_condition(HiddenTransactions({3, 5}, newest=7)) == '"_qserv_txn" <= 7 AND "_qserv_txn" NOT IN (3, 5)'
    assert visible_condition(HiddenTransactions((), newest=7)) == '"_qserv_txn" <= 7'
    assert visible_condition({4}) == '"_qserv_txn" NOT IN (4)' and visible_condition(set()) == "TRUE"


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request, tmp_path, new_instance):
    new_instance(tmp_path / "home", request.param, 2)
    with qserv.open(tmp_path / "home") as opened:
        opened.create_database("sky", chunk_order=3, subchunk_order=5, overlap_arcsec=60.0)
        opened.create_table("sky.T", TableSpec("director", COLUMNS, id_column="id", ra_column="ra", dec_column="decl"))
        opened.ingest("sky.T", [_rows(0, 500)])
        yield opened


@pytest.mark.parametrize("query, expected", [
    ("SELECT COUNT(id) AS n FROM sky.T", 500),
    ("SELECT COUNT(id) AS n FROM sky.T WHERE CONTAINS(POINT(ra, decl), CIRCLE(20, 0, 30)) = 1", None),
    ("SELECT COUNT(id) AS n FROM sky.T WHERE id IN (7, 100007)", 1),
])
def test_rows_of_a_transaction_begun_after_the_query_started_stay_hidden(engine, query, expected):
    before = engine.query(query).column("n").to_pylist()
    snapshot, _, plan, _ = engine._prepare(query, "adql", None)  # the query has started
    transaction = engine.transactions.begin("sky")
    engine.transactions.contribute(transaction, "T", _rows(100_000, 300), key="late")
    try:
        seen = QueryRun(engine.execution, snapshot, Cancellation(60)).run(plan).column(0).to_pylist()
        assert seen == before and (expected is None or before == [expected])
    finally:
        engine.transactions.abort(transaction)
