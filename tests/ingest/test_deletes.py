"""Row deletion in transactions on both backends: invisible at commit (queries, lookups, chunk
counts, every replica and overlap copy), back at abort or after a crash, conflicts refused,
replace by key, purge of what no reader needs. Expected answers come from the rows kept in numpy."""

import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import qserv
from qserv.errors import ConflictError, UserError
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.storage import HiddenTransactions

from tests.ingest.test_transactions import make_object_table, objects, sorted_rows

SOURCE_COLUMNS = [Column("sourceId", "long", nullable=False), Column("objectId", "long"),
                  Column("flux", "double")]


def query_ids(engine, sql):
    return sorted(engine.query(sql, lang="qserv").column(0).to_pylist())


def stored_copies(engine, table):
    """Every stored row of the table on every worker (replicas, overlap copies and rows marked
    deleted included), with its system columns."""
    from qserv.meta.catalog import split_table_name
    from qserv.meta.models import Worker
    from qserv.storage import physical_table_name

    name = physical_table_name(*split_table_name(table))
    with engine.store.session() as session:
        workers = session.query(Worker).all()
        return pa.concat_tables([engine.pool.get(w).query(f'SELECT * FROM "{name}"') for w in workers])


def test_deleted_rows_vanish_at_commit_from_queries_lookups_and_counts(engine, database_name):
    make_object_table(engine, database_name, replication=2)
    data = objects(4000, seed=3)
    engine.ingest(f"{database_name}.Object", [data])
    gone = np.random.default_rng(1).choice(data["objectId"].to_numpy(), 700, replace=False)
    kept = data.filter(pc.invert(pc.is_in(data["objectId"], pa.array(gone))))

    transaction = engine.transactions.begin(database_name)
    assert engine.delete_rows(f"{database_name}.Object", "objectId", gone, transaction) == 700
    # still visible until the commit
    assert query_ids(engine, f"SELECT objectId FROM {database_name}.Object") == sorted(data["objectId"].to_pylist())
    engine.transactions.commit(transaction)

    assert sorted_rows(engine.read_table(f"{database_name}.Object"), "objectId") == sorted_rows(kept, "objectId")
    assert query_ids(engine, f"SELECT objectId FROM {database_name}.Object") == sorted(kept["objectId"].to_pylist())
    some_gone = ", ".join(map(str, gone[:20]))
    assert query_ids(engine, f"SELECT objectId FROM {database_name}.Object WHERE objectId IN ({some_gone})") == []
    count = engine.query(f"SELECT COUNT(*) AS n FROM {database_name}.Object WHERE dec > 0", lang="qserv")
    assert count.column("n")[0].as_py() == int((kept["dec"].to_numpy() > 0).sum())
    assert sum(rows for _, rows, _, _ in engine.chunks(f"{database_name}.Object")) == len(kept)
    # every stored copy (both replicas, overlap copies) carries the mark
    copies = stored_copies(engine, f"{database_name}.Object")
    marked = copies.filter(pc.is_valid(copies["_qserv_deleted"]))
    assert set(marked["objectId"].to_pylist()) == set(gone.tolist())
    assert pc.all(pc.equal(marked["_qserv_deleted"], transaction)).as_py()
    unmarked = copies.filter(pc.is_null(copies["_qserv_deleted"]))
    assert not set(unmarked["objectId"].to_pylist()) & set(gone.tolist())
    assert marked.num_rows >= 2 * 700  # both replicas
    assert engine.query(f"SELECT COUNT(*) AS n FROM {database_name}.Object", lang="qserv").column("n")[0].as_py() \
        == len(kept)


def test_abort_brings_the_rows_back_and_a_second_delete_is_a_no_op(engine, database_name):
    make_object_table(engine, database_name)
    data = objects(500, seed=4)
    engine.ingest(f"{database_name}.Object", [data])
    ids = data["objectId"].to_numpy()[:50]
    transaction = engine.transactions.begin(database_name)
    assert engine.delete_rows(f"{database_name}.Object", "objectId", ids, transaction) == 50
    assert engine.delete_rows(f"{database_name}.Object", "objectId", ids, transaction) == 0
    engine.transactions.abort(transaction)
    assert sorted_rows(engine.read_table(f"{database_name}.Object"), "objectId") == sorted_rows(data, "objectId")
    assert sum(rows for _, rows, _, _ in engine.chunks(f"{database_name}.Object")) == len(data)
    copies = stored_copies(engine, f"{database_name}.Object")
    assert copies["_qserv_deleted"].null_count == len(copies)


def test_a_row_another_open_transaction_deletes_is_a_conflict(engine, database_name):
    make_object_table(engine, database_name)
    data = objects(200, seed=5)
    engine.ingest(f"{database_name}.Object", [data])
    first = engine.transactions.begin(database_name)
    engine.delete_rows(f"{database_name}.Object", "objectId", [5, 6], first)
    with pytest.raises(ConflictError, match="another transaction"):
        engine.delete_rows(f"{database_name}.Object", "objectId", [6, 7])
    engine.transactions.commit(first)
    assert engine.delete_rows(f"{database_name}.Object", "objectId", [6, 7]) == 1  # 6 is already gone


def test_replace_rows_is_an_upsert_by_key_on_a_unique_director(engine, database_name):
    make_object_table(engine, database_name)
    data = objects(1000, seed=6)
    engine.ingest(f"{database_name}.Object", [data])
    changed = objects(300, seed=7, first_id=900)  # ids 900..1199: 101 replaced, 199 new
    _, deleted = engine.replace_rows(f"{database_name}.Object", "objectId", changed)
    assert deleted == 101
    expected = pa.concat_tables([data.filter(pc.less(data["objectId"], 900)), changed])
    assert sorted_rows(engine.read_table(f"{database_name}.Object"), "objectId") == sorted_rows(expected, "objectId")
    looked_up = engine.query(f"SELECT objectId, mag FROM {database_name}.Object WHERE objectId IN (950, 1100)",
                             lang="qserv").sort_by("objectId")
    new = changed.filter(pc.is_in(changed["objectId"], pa.array([950, 1100]))).sort_by("objectId")
    assert looked_up.column("mag").to_pylist() == new.column("mag").to_pylist()
    # the replaced ids can be replaced again (the index does not count deleted rows as duplicates)
    engine.replace_rows(f"{database_name}.Object", "objectId", changed.slice(0, 10))
    assert engine.read_table(f"{database_name}.Object").num_rows == len(expected)


def test_deletes_by_another_column_on_a_replicated_and_a_child_table(engine, database_name):
    make_object_table(engine, database_name, replication=2)
    engine.create_table(f"{database_name}.Filter", TableSpec(kind="replicated", columns=[
        Column("filterId", "int", nullable=False), Column("name", "string")]))
    engine.create_table(f"{database_name}.Source", TableSpec(kind="child", columns=SOURCE_COLUMNS,
                                                             director=f"{database_name}.Object",
                                                             director_key="objectId"))
    data = objects(300, seed=8)
    engine.ingest(f"{database_name}.Object", [data])
    filters = pa.table({"filterId": pa.array(range(6), pa.int32()), "name": list("ugrizy")})
    engine.ingest(f"{database_name}.Filter", [filters])
    rng = np.random.default_rng(9)
    sources = pa.table({"sourceId": np.arange(3000), "objectId": rng.choice(data["objectId"].to_numpy(), 3000),
                        "flux": rng.uniform(0, 1, 3000)})
    engine.ingest(f"{database_name}.Source", [sources])
    engine.delete_rows(f"{database_name}.Filter", "name", ["g", "y"])
    assert sorted(engine.read_table(f"{database_name}.Filter")["name"].to_pylist()) == sorted(set("ugrizy") - {"g", "y"})
    names = engine.query(f"SELECT name FROM {database_name}.Filter", lang="qserv").column(0).to_pylist()
    assert sorted(names) == sorted(set("ugrizy") - {"g", "y"})
    victims = data["objectId"].to_numpy()[:40]
    deleted = engine.delete_rows(f"{database_name}.Source", "objectId", victims)
    kept = sources.filter(pc.invert(pc.is_in(sources["objectId"], pa.array(victims))))
    assert deleted == len(sources) - len(kept)
    joined = engine.query(f"SELECT s.sourceId FROM {database_name}.Object o JOIN {database_name}.Source s "
                          f"ON o.objectId = s.objectId", lang="qserv")
    assert sorted(joined.column(0).to_pylist()) == sorted(kept["sourceId"].to_pylist())
    with pytest.raises(UserError, match="no column"):
        engine.delete_rows(f"{database_name}.Source", "nope", [1])


def test_purge_keeps_what_a_pinned_visibility_still_sees(engine, database_name):
    make_object_table(engine, database_name)
    data = objects(400, seed=10)
    engine.ingest(f"{database_name}.Object", [data])
    with engine.store.session() as session:
        from qserv.ingest.transactions import pending_transactions
        pinned = pending_transactions(session)  # the state before both deletes
    engine.delete_rows(f"{database_name}.Object", "objectId", data["objectId"].to_numpy()[:10])
    second = engine.transactions.begin(database_name)
    engine.delete_rows(f"{database_name}.Object", "objectId", data["objectId"].to_numpy()[10:30], second)
    engine.transactions.commit(second)
    before = stored_copies(engine, f"{database_name}.Object").num_rows

    assert engine.purge_deleted(database_name, keep_for=[pinned], grace_s=0) == 0
    later = HiddenTransactions((), second - 1)  # sees the first delete, not the second
    removed = engine.purge_deleted(database_name, keep_for=[later], grace_s=0)
    assert removed > 0
    assert engine.purge_deleted(database_name, grace_s=3600) == 0  # too recent
    engine.purge_deleted(database_name, grace_s=0)
    with engine.store.session() as session:
        from qserv.meta.models import Contribution, Database, Transaction
        states = {c.state for c in session.query(Contribution).join(Transaction).join(Database).filter(
            Contribution.key.startswith("delete:"), Database.name == database_name)}
    assert states == {"purged"}  # later purges do not look at them again
    after = stored_copies(engine, f"{database_name}.Object")
    assert after["_qserv_deleted"].null_count == after.num_rows
    assert before - after.num_rows >= 30
    assert sorted_rows(engine.read_table(f"{database_name}.Object"), "objectId") == \
        sorted_rows(data.slice(30), "objectId")


def test_marks_of_a_killed_process_are_cleared_at_the_next_open(home, database_name):
    with qserv.open(home) as engine:
        make_object_table(engine, database_name)
        data = objects(300, seed=11)
        engine.ingest(f"{database_name}.Object", [data])
    script = textwrap.dedent(f"""
        import os, qserv
        engine = qserv.open({str(home)!r})
        transaction = engine.transactions.begin({database_name!r})
        engine.delete_rows("{database_name}.Object", "objectId", list(range(1, 101)), transaction)
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with qserv.open(home) as engine:
        assert sorted_rows(engine.read_table(f"{database_name}.Object"), "objectId") == sorted_rows(data, "objectId")
        copies = stored_copies(engine, f"{database_name}.Object")
        assert copies["_qserv_deleted"].null_count == copies.num_rows
