"""Snapshots (qserv.meta.snapshots): a query pinned to a snapshot reads the rows of then, after
new ingests on DuckDB and PostgreSQL workers and after its chunks moved to another worker; the
answers are compared with numpy over the rows ingested before the snapshot."""


import numpy as np
import pytest

import qserv
from qserv.errors import ConflictError, NotFoundError, UserError
from qserv.meta import snapshots

from tests.cli_run import ok, run, user_error


def _tag(engine, name):
    with engine.store.session() as session:
        return snapshots.tag(session, name)


def _expected_count(table, mag_limit):
    return int(np.sum(table.column("mag").to_numpy() < mag_limit))


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_pinned_query_keeps_its_answer_after_new_ingests(sky_home, sky, backend):
    first = sky.rows(0, 2000, 1)
    with qserv.open(sky_home(backend)) as engine:
        _tag(engine, "DR1")
        engine.ingest(sky.TABLE, [sky.rows(2000, 300, 2)])
        _tag(engine, "DR2")
        engine.ingest(sky.TABLE, [sky.rows(2300, 50, 3)])
        count = f"SELECT COUNT(*) AS n FROM {sky.TABLE} WHERE mag < 19"
        assert engine.query(count, as_of="DR1").column("n")[0].as_py() == _expected_count(first, 19)
        both = sky.rows(2000, 300, 2)
        assert engine.query(count, as_of="DR2").column("n")[0].as_py() == \
            _expected_count(first, 19) + _expected_count(both, 19)
        everything = f"SELECT COUNT(*) AS n FROM {sky.TABLE}"  # the chunk counters' shortcut is of now
        assert engine.query(everything, as_of="DR1").column("n")[0].as_py() == 2000
        assert engine.query(everything).column("n")[0].as_py() == 2350
        lookup = f"SELECT id FROM {sky.TABLE} WHERE id = 2100"
        assert engine.query(lookup, as_of="DR1").num_rows == 0
        assert engine.query(lookup, as_of="DR2").num_rows == 1
        ids = engine.query(sky.cone(5, 0, 3), as_of="DR1").column("id").to_numpy()
        assert ids.max() < 2000 and len(ids) > 0
        logged = engine.recent_queries(limit=1)[0]
        assert logged.as_of == "DR1" and logged.visibility["newest"] == 1


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_pinned_query_survives_chunk_moves_and_re_replication(sky_home, sky, backend):
    home = sky_home(backend, workers=3)
    with qserv.open(home) as engine:
        _tag(engine, "DR1")
        engine.ingest(sky.TABLE, [sky.rows(2000, 300, 2)])
        query = sky.cone(5, 0, 4)
        before = engine.query(query, as_of="DR1").sort_by("id")
        placed = {worker for *_, workers in engine.chunks(sky.TABLE) for worker in workers}
        engine.drain_worker(sorted(placed)[0])
        after = engine.query(query, as_of="DR1").sort_by("id")
        assert after.equals(before)
        engine.replicate(sky.DATABASE, 2)  # each chunk copied to a second worker
        assert engine.query(query, as_of="DR1").sort_by("id").equals(before)
        assert engine.query(f"SELECT COUNT(*) AS n FROM {sky.TABLE} WHERE mag < 30", as_of="DR1") \
            .column("n")[0].as_py() == 2000


def test_tag_list_release(sky_home, sky):
    with qserv.open(sky_home()) as engine:
        _tag(engine, "DR1")
        with pytest.raises(ConflictError, match="exists"):
            _tag(engine, "DR1")
        with pytest.raises(UserError, match="invalid snapshot name"):
            _tag(engine, "1; DROP TABLE x")
        _tag(engine, "DR2")
        with engine.store.session() as session:
            assert [s.name for s in snapshots.list_snapshots(session)] == ["DR1", "DR2"]
            assert len(snapshots.pinned_visibilities(session)) == 2
            snapshots.release(session, "DR1")
        with engine.store.session() as session:
            assert [h.newest for h in snapshots.pinned_visibilities(session)] == [1]
            with pytest.raises(ConflictError, match="released"):
                snapshots.release(session, "DR1")
            with pytest.raises(NotFoundError):
                snapshots.release(session, "DR9")
        with pytest.raises(UserError, match="released"):
            engine.query(f"SELECT COUNT(*) FROM {sky.TABLE}", as_of="DR1")
        with pytest.raises(NotFoundError, match="no snapshot"):
            engine.query(f"SELECT COUNT(*) FROM {sky.TABLE}", as_of="DR3")


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_rows_deleted_later_stay_visible_to_a_snapshot_until_it_is_released(sky_home, sky, backend):
    first = sky.rows(0, 2000, 1)
    doomed = [int(i) for i in range(0, 2000, 7)]
    with qserv.open(sky_home(backend)) as engine:
        _tag(engine, "DR1")
        count = f"SELECT COUNT(*) AS n, SUM(mag) AS m FROM {sky.TABLE}"
        aborted = engine.transactions.begin(sky.DATABASE)
        engine.delete_rows(sky.TABLE, "id", doomed, transaction_id=aborted)
        engine.transactions.abort(aborted)  # an aborted deletion changes nothing, for anyone
        assert engine.query(count).column("n")[0].as_py() == 2000
        assert engine.query(count, as_of="DR1").column("n")[0].as_py() == 2000
        engine.delete_rows(sky.TABLE, "id", doomed)
        kept = np.setdiff1d(np.arange(2000), doomed)
        assert engine.query(count).column("n")[0].as_py() == len(kept)
        pinned = engine.query(count, as_of="DR1")
        assert pinned.column("n")[0].as_py() == 2000
        assert pinned.column("m")[0].as_py() == pytest.approx(float(np.sum(first.column("mag").to_numpy())))
        assert engine.purge_deleted(sky.DATABASE, grace_s=0) == 0  # DR1 still sees them
        assert engine.query(count, as_of="DR1").column("n")[0].as_py() == 2000
        assert engine.query(f"SELECT id FROM {sky.TABLE} WHERE id = 7", as_of="DR1").num_rows == 1
        with engine.store.session() as session:
            snapshots.release(session, "DR1")
        assert engine.purge_deleted(sky.DATABASE, grace_s=0) > 0
        assert engine.query(count).column("n")[0].as_py() == len(kept)


def test_cli_snapshot_commands_and_query_as_of(sky_home, sky):
    home = sky_home()
    assert "snapshot DR1: transactions up to 1" in ok(run(home, "snapshot", "tag", "DR1"))
    with qserv.open(home) as engine:
        engine.ingest(sky.TABLE, [sky.rows(2000, 40, 4)])
    count = f"SELECT COUNT(*) AS n FROM {sky.TABLE} WHERE mag < 40"
    assert ok(run(home, "query", "--as-of", "DR1", "--format", "csv", count)).split()[1] == "2000"
    assert ok(run(home, "query", "--format", "csv", count)).split()[1] == "2040"
    assert ok(run(home, "snapshot", "list")).splitlines()[1].startswith("DR1\t")
    assert "released" in ok(run(home, "snapshot", "release", "DR1"))
    user_error(run(home, "query", "--as-of", "DR1", count), "released")
    user_error(run(home, "snapshot", "tag", "no spaces"), "invalid snapshot name")
    user_error(run(home, "snapshot", "release", "DR9"), "no snapshot")
