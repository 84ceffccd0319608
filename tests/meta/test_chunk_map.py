"""The in-memory chunk map against the central state it is read from, its version (a commit
changes it, a read does not), and chunk assignment over replicas against a brute-force rule."""

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import select

import qserv
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.meta.chunk_map import ChunkCounts, Placement, read_chunk_map
from qserv.meta.models import Chunk, Database, Replica, Table, Worker
from qserv.meta.snapshot import SnapshotCache
from qserv.schema.columns import Column


def _rows(count, seed):
    rng = np.random.default_rng(seed)
    return pa.table({"id": np.arange(count, dtype=np.int64) + 1000 * seed,
                     "ra": rng.uniform(0, 360, count),
                     "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, count)))})


@pytest.fixture
def engine(tmp_path):
    init_instance(tmp_path / "home", workers=3)
    with qserv.open(tmp_path / "home") as opened:
        opened.create_database("sky", chunk_order=3, subchunk_order=5, overlap_arcsec=600.0, replication=2)
        columns = [Column("id", "long", False), Column("ra", "double", False), Column("decl", "double", False)]
        for name in ("A", "B"):
            opened.create_table(f"sky.{name}", TableSpec("director", columns, id_column="id",
                                                         ra_column="ra", dec_column="decl"))
        opened.ingest("sky.A", [_rows(500, 1)])
        opened.ingest("sky.B", [_rows(300, 2)])
        yield opened


def test_the_map_holds_what_the_central_state_says(engine):
    with engine.store.session() as session:
        chunk_map = read_chunk_map(session)
        for name in ("A", "B"):
            stored = session.execute(select(Chunk.chunk, Chunk.rows, Chunk.overlap_rows)
                                     .join(Table).join(Database).where(Table.name == name)
                                     .order_by(Chunk.chunk)).all()
            counts = chunk_map.counts[("sky", name)]
            assert [tuple(map(int, row)) for row in zip(counts.chunks, counts.rows, counts.overlap_rows)] == \
                [tuple(row) for row in stored]
            assert counts.rows.sum() == (500 if name == "A" else 300)
        holders = {}
        for chunk, worker_id in session.execute(select(Replica.chunk, Replica.worker_id)):
            holders.setdefault(chunk, []).append(worker_id)
    placement = chunk_map.placement("sky")
    rows, placed = placement.holders_of(placement.chunks)
    assert placed.all()
    assert {int(c): sorted(w for w in row.tolist() if w >= 0) for c, row in zip(placement.chunks, rows)} == \
        {c: sorted(w) for c, w in holders.items()}
    both = chunk_map.table_counts([_info("A"), _info("B")])
    assert both.rows.sum() == 800 and list(both.chunks) == sorted(set(both.chunks))


class _info:
    def __init__(self, name):
        self.database, self.name = "sky", name


def test_the_snapshot_reads_the_map_again_only_after_a_commit(engine):
    cache = SnapshotCache()
    with engine.store.session() as session:
        first = cache.read(session)
        assert cache.read(session).chunk_map is first.chunk_map
    transaction = engine.transactions.begin("sky")
    engine.transactions.contribute(transaction, "A", _rows(10, 7), key="k")
    with engine.store.session() as session:  # an open transaction changes nothing visible
        assert cache.read(session).chunk_map is first.chunk_map
    engine.transactions.commit(transaction)
    with engine.store.session() as session:
        again = cache.read(session)
    assert again.chunk_map is not first.chunk_map and again.tables.keys() == first.tables.keys()
    assert again.chunk_map.counts[("sky", "A")].rows.sum() == 510


def test_counts_restricted_and_summed():
    a = ChunkCounts(np.array([1, 3, 8]), np.array([10, 20, 30]), np.array([1, 2, 3]))
    b = ChunkCounts(np.array([3, 4]), np.array([5, 6]), np.array([0, 1]))
    summed = ChunkCounts.summed([a, b])
    assert summed.chunks.tolist() == [1, 3, 4, 8] and summed.rows.tolist() == [10, 25, 6, 30]
    assert summed.overlap_rows.tolist() == [1, 2, 1, 3]
    assert a.restricted(np.array([3, 8, 9])).rows.tolist() == [20, 30]
    assert a.restricted(np.array([9, 8, 3, 3, 0])).chunks.tolist() == [3, 8]  # any order, repeats
    assert len(a.restricted(np.array([], dtype=np.int64))) == 0
    assert len(ChunkCounts.summed([]).restricted(np.array([1]))) == 0
    rng = np.random.default_rng(3)
    many = ChunkCounts(np.unique(rng.integers(0, 10**6, 5000)), *(rng.integers(0, 9, (2, 5000))))
    many = ChunkCounts(many.chunks, many.rows[:len(many.chunks)], many.overlap_rows[:len(many.chunks)])
    wanted = rng.integers(0, 10**6, 300)
    kept = np.isin(many.chunks, wanted)  # brute force
    assert many.restricted(wanted).chunks.tolist() == many.chunks[kept].tolist()
    assert many.restricted(wanted).rows.tolist() == many.rows[kept].tolist()
    assert a.restricted(None) is a


@pytest.mark.parametrize("seed", range(5))
def test_assignment_uses_only_usable_holders_and_spreads_the_load(seed):
    rng = np.random.default_rng(seed)
    chunks = np.unique(rng.integers(0, 10_000, 2000))
    holders = np.array([rng.choice(5, 2, replace=False) for _ in chunks])
    holders.sort(axis=1)
    placement = Placement(chunks, holders)
    usable = {0, 1, 4} if seed % 2 else {0, 1, 2, 3, 4}
    wanted = np.sort(rng.choice(chunks, 1500, replace=False))
    assigned, missing = placement.assign(np.append(wanted, 10_001), usable)
    by_chunk = {int(c): w for w, owned in assigned.items() for c in owned}
    unusable = [int(c) for c, h in zip(chunks, holders) if c in wanted and not set(h.tolist()) & usable]
    assert sorted(missing) == sorted(unusable + [10_001])
    for chunk, row in zip(chunks, holders):
        if chunk in by_chunk:
            assert by_chunk[chunk] in row and by_chunk[chunk] in usable
    assert sorted(by_chunk) == sorted(set(wanted.tolist()) - set(missing))
    load = Counter(by_chunk.values())
    assert max(load.values()) < 1.35 * (len(by_chunk) / len(usable))  # even within a third


def test_a_replica_change_is_seen_through_the_placement_version(engine):
    cache = SnapshotCache()
    with engine.store.session() as session:
        first = cache.read(session)
        chunk = int(first.chunk_map.placement("sky").chunks[0])
        held = set(first.chunk_map.placement("sky").holders_of([chunk])[0][0].tolist())
        spare = next(w for w in first.workers if w not in held)
        session.add(Replica(database_id=session.scalars(select(Database.id)).one(), chunk=chunk, worker_id=spare))
    with engine.store.session() as session:
        assert cache.read(session).chunk_map is first.chunk_map  # not announced: not seen
        session.scalars(select(Database)).one().placement_version += 1
    with engine.store.session() as session:
        holders = cache.read(session).chunk_map.placement("sky").holders_of([chunk])[0][0]
    assert spare in holders.tolist()


def test_the_snapshot_sees_one_worker_disabled_and_another_enabled(engine):
    cache = SnapshotCache()
    with engine.store.session() as session:
        rows = session.scalars(select(Worker).order_by(Worker.id)).all()
        rows[0].state = "disabled"
    with engine.store.session() as session:
        assert set(cache.read(session).workers) == {rows[1].id, rows[2].id}
    with engine.store.session() as session:  # as many active workers as before, other ones
        for row in session.scalars(select(Worker)):
            row.state = "disabled" if row.id == rows[1].id else "active"
    with engine.store.session() as session:
        assert set(cache.read(session).workers) == {rows[0].id, rows[2].id}
