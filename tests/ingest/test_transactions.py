"""Ingest through super-transactions on both backends: placement, counts, visibility, errors."""

import healpy
import numpy as np
import pyarrow as pa
import pytest

from qserv.errors import ConflictError, InputError, UserError
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.sphere.angles import unit_vectors
from qserv.sphere.pixels import EDGE_DEVIATION_FACTOR

OBJECT_COLUMNS = [Column("objectId", "long", nullable=False), Column("ra", "double", nullable=False),
                  Column("dec", "double", nullable=False), Column("mag", "float"), Column("name", "string")]
SOURCE_COLUMNS = [Column("sourceId", "long", nullable=False), Column("objectId", "long"),
                  Column("flux", "double")]
DIA_COLUMNS = [Column("diaSourceId", "long", nullable=False), Column("diaObjectId", "long"),
               Column("ra", "double"), Column("dec", "double")]


def objects(n, seed=0, first_id=1):
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    if n >= 3:  # the poles and RA 0/360
        ra[:3], dec[:3] = [0.0, 359.9999, 180.0], [90.0, -89.9999, 0.0]
    return pa.table({
        "objectId": pa.array(np.arange(first_id, first_id + n), pa.int64()),
        "ra": ra, "dec": dec,
        "mag": pa.array(rng.uniform(10, 25, n).astype(np.float32)),
        "name": pa.array([None if i % 7 == 0 else f"star {i}" for i in range(n)], pa.string()),
    })


def make_object_table(engine, database, replication=1, chunk_order=5, subchunk_order=8, overlap_arcsec=300):
    engine.create_database(database, chunk_order, subchunk_order, overlap_arcsec, replication)
    engine.create_table(f"{database}.Object", TableSpec(kind="director", columns=OBJECT_COLUMNS,
                                                        id_column="objectId", ra_column="ra", dec_column="dec"))


def sorted_rows(table, key):
    return table.sort_by(key).to_pylist()


def test_director_rows_counts_overlap_and_replicas(engine, database_name):
    make_object_table(engine, database_name, replication=2)
    data = objects(20_000)
    transaction_id, results = engine.ingest(f"{database_name}.Object", [data])
    assert results[0].rows == len(data) and results[0].overlap_rows > 0
    assert sorted_rows(engine.read_table(f"{database_name}.Object"), "objectId") == sorted_rows(data, "objectId")

    chunks = engine.chunks(f"{database_name}.Object")
    assert sum(rows for _, rows, _, _ in chunks) == len(data)
    expected = np.unique(healpy.ang2pix(32, data["ra"].to_numpy(), data["dec"].to_numpy(), nest=True, lonlat=True))
    assert sorted(c for c, rows, _, _ in chunks if rows) == expected.tolist()
    assert all(len(workers) == 2 for _, _, _, workers in chunks)
    assert len({w for _, _, _, workers in chunks for w in workers}) == 4

    stored = engine.read_table(f"{database_name}.Object", include_overlap=True)
    overlap = stored.filter(stored["_qserv_overlap"])
    assert len(overlap) == sum(o for _, _, o, _ in chunks)
    # Every overlap copy lies within the overlap radius of its chunk (a chunk other than its own)
    # and keeps its own sub-chunk id.
    ra, dec = overlap["ra"].to_numpy(), overlap["dec"].to_numpy()
    assert np.array_equal(overlap["_qserv_subchunk"].to_numpy(), healpy.ang2pix(256, ra, dec, nest=True, lonlat=True))
    assert np.all(overlap["_qserv_chunk"].to_numpy() != healpy.ang2pix(32, ra, dec, nest=True, lonlat=True))
    boundary = np.moveaxis(healpy.boundaries(32, overlap["_qserv_chunk"].to_numpy(), step=64, nest=True), 1, 2)
    cosines = np.einsum("nk,npk->np", unit_vectors(ra, dec), boundary).max(1)
    nearest_arcsec = np.degrees(np.arccos(np.clip(cosines, -1, 1))) * 3600
    pixrad_arcsec = np.degrees(healpy.max_pixrad(32)) * 3600
    sampling_arcsec = 2 * pixrad_arcsec / 64
    # The chord widening of pixels.py: EDGE_DEVIATION_FACTOR * pixrad^2 / max(sin(theta), pixrad).
    sin_theta = np.maximum(np.cos(np.radians(np.abs(dec) + np.degrees(healpy.max_pixrad(32)))), healpy.max_pixrad(32))
    widening_arcsec = EDGE_DEVIATION_FACTOR * pixrad_arcsec * healpy.max_pixrad(32) / sin_theta
    # Included within r + widening of the chord, which is itself within the widening of the edge.
    assert np.all(nearest_arcsec <= 300 + 2 * widening_arcsec + sampling_arcsec)
    assert np.mean(nearest_arcsec <= 300 + widening_arcsec + sampling_arcsec) > 0.95


def test_child_rows_follow_their_director(engine, database_name):
    make_object_table(engine, database_name)
    engine.create_table(f"{database_name}.Source", TableSpec(
        kind="child", columns=SOURCE_COLUMNS, director=f"{database_name}.Object", director_key="objectId"))
    data = objects(3000)
    engine.ingest(f"{database_name}.Object", [data])
    rng = np.random.default_rng(1)
    parents = rng.integers(1, 3001, 9000)
    sources = pa.table({"sourceId": np.arange(9000), "objectId": parents, "flux": rng.normal(size=9000)})
    engine.ingest(f"{database_name}.Source", [sources])
    stored = engine.read_table(f"{database_name}.Source", include_overlap=True)
    assert len(stored) == 9000 and not stored["_qserv_overlap"].to_numpy().any()
    object_chunk = dict(zip(data["objectId"].to_pylist(),
                            healpy.ang2pix(32, data["ra"].to_numpy(), data["dec"].to_numpy(), nest=True, lonlat=True)))
    assert all(object_chunk[o] == c for o, c in zip(stored["objectId"].to_pylist(), stored["_qserv_chunk"].to_pylist()))

    orphans = pa.table({"sourceId": [10_001, 10_002], "objectId": [2, 999_999], "flux": [1.0, 2.0]})
    with pytest.raises(InputError, match=r"batch-0, column 'objectId': 1 row\(s\) of Source reference "
                                         r"Object.objectId values that do not exist: 999999 \(row 2\)"):
        engine.ingest(f"{database_name}.Source", [orphans])
    assert len(engine.read_table(f"{database_name}.Source")) == 9000


def test_child_with_own_position_accepts_unknown_and_null_directors(engine, database_name):
    make_object_table(engine, database_name)
    engine.create_table(f"{database_name}.DiaSource", TableSpec(
        kind="child", columns=DIA_COLUMNS, director=f"{database_name}.Object", director_key="diaObjectId",
        ra_column="ra", dec_column="dec"))
    rows = pa.table({"diaSourceId": [1, 2, 3], "diaObjectId": pa.array([None, 42, None], pa.int64()),
                     "ra": [10.0, 20.0, 30.0], "dec": [-5.0, 5.0, 60.0]})
    engine.ingest(f"{database_name}.DiaSource", [rows])
    stored = engine.read_table(f"{database_name}.DiaSource", include_overlap=True)
    assert sorted(stored["_qserv_chunk"].to_pylist()) == sorted(
        healpy.ang2pix(32, [10.0, 20.0, 30.0], [-5.0, 5.0, 60.0], nest=True, lonlat=True).tolist())


def test_replicated_time_and_hash_tables(engine, database_name):
    engine.create_database(database_name)
    filters = pa.table({"band": ["u", "g", "r"], "wavelength_nm": [360.0, 480.0, 620.0]})
    columns = [Column("band", "string"), Column("wavelength_nm", "double")]
    engine.create_table(f"{database_name}.Filter", TableSpec(kind="replicated", columns=columns))
    engine.ingest(f"{database_name}.Filter", [filters])
    assert sorted_rows(engine.read_table(f"{database_name}.Filter"), "band") == sorted_rows(filters, "band")
    assert engine.chunks(f"{database_name}.Filter")[0][3] == ["worker1", "worker2", "worker3", "worker4"]

    samples = pa.table({"mjd": np.linspace(60000.0, 60010.0, 1000), "value": np.arange(1000.0)})
    engine.create_table(f"{database_name}.Telemetry", TableSpec(
        kind="time", columns=[Column("mjd", "double"), Column("value", "double")],
        partition_column="mjd", bucket_days=2.0))
    engine.ingest(f"{database_name}.Telemetry", [samples])
    counts = {chunk: rows for chunk, rows, _, _ in engine.chunks(f"{database_name}.Telemetry")}
    expected = np.unique(np.floor(samples["mjd"].to_numpy() / 2.0).astype(int), return_counts=True)
    assert counts == dict(zip(expected[0].tolist(), expected[1].tolist()))

    keys = pa.table({"dataset": [f"ds-{i}" for i in range(500)], "size": np.arange(500)})
    engine.create_table(f"{database_name}.Datasets", TableSpec(
        kind="hash", columns=[Column("dataset", "string"), Column("size", "long")],
        partition_column="dataset", bucket_count=16))
    engine.ingest(f"{database_name}.Datasets", [keys])
    hashed = engine.chunks(f"{database_name}.Datasets")
    assert sum(rows for _, rows, _, _ in hashed) == 500 and len(hashed) == 16
    assert sorted_rows(engine.read_table(f"{database_name}.Datasets"), "size") == sorted_rows(keys, "size")


def test_rows_are_invisible_until_commit_and_gone_after_abort(engine, database_name):
    make_object_table(engine, database_name)
    table = f"{database_name}.Object"
    engine.ingest(table, [objects(500, seed=3)])
    transaction_id = engine.transactions.begin(database_name)
    engine.transactions.contribute(transaction_id, "Object", objects(400, seed=4, first_id=10_000), key="visit-1")
    assert len(engine.read_table(table)) == 500
    before = engine.chunks(table)
    engine.transactions.abort(transaction_id)
    assert len(engine.read_table(table)) == 500
    assert len(engine.read_table(table, include_overlap=True).filter(
        pa.compute.equal(engine.read_table(table, include_overlap=True)["_qserv_txn"], transaction_id))) == 0
    assert engine.chunks(table) == before
    with pytest.raises(ConflictError, match="is aborted, not open"):
        engine.transactions.contribute(transaction_id, "Object", objects(3), key="late")


def test_retried_contribution_does_not_duplicate(engine, database_name):
    make_object_table(engine, database_name)
    transaction_id = engine.transactions.begin(database_name)
    batch = objects(700, seed=5)
    first = engine.transactions.contribute(transaction_id, "Object", batch, key="file-a")
    again = engine.transactions.contribute(transaction_id, "Object", batch, key="file-a")
    assert again.reused and again.id == first.id
    engine.transactions.commit(transaction_id)
    assert len(engine.read_table(f"{database_name}.Object")) == 700


def test_duplicate_director_ids_are_refused(engine, database_name):
    make_object_table(engine, database_name)
    table = f"{database_name}.Object"
    doubled = pa.concat_tables([objects(10, seed=6), objects(10, seed=7).slice(8, 2)])
    with pytest.raises(InputError, match=r"duplicate Object.objectId values \(table is unique\): 9, 10"):
        engine.ingest(table, [doubled])
    assert len(engine.read_table(table)) == 0
    engine.ingest(table, [objects(10, seed=6)])
    with pytest.raises(InputError, match="duplicate Object.objectId values"):
        engine.ingest(table, [objects(5, seed=8, first_id=8)])
    # Two open transactions with the same id: the second commit is refused.
    first = engine.transactions.begin(database_name)
    second = engine.transactions.begin(database_name)
    engine.transactions.contribute(first, "Object", objects(1, seed=9, first_id=100), key="a")
    engine.transactions.contribute(second, "Object", objects(1, seed=10, first_id=100), key="b")
    engine.transactions.commit(first)
    with pytest.raises(InputError, match=r"transaction \d+: duplicate Object.objectId values"):
        engine.transactions.commit(second)
    engine.transactions.abort(second)
    assert len(engine.read_table(table)) == 11


@pytest.mark.parametrize("column, value, message", [
    ("ra", np.nan, "columns 'ra'/'dec': ra_deg=nan is not in [0, 360]"),
    ("dec", 91.0, "columns 'ra'/'dec': dec_deg=91.0 is not in [-90, 90]"),
])
def test_bad_coordinates_name_row_and_column_and_leave_nothing(engine, database_name, column, value, message):
    make_object_table(engine, database_name)
    data = objects(100).to_pydict()
    data[column][41] = value
    with pytest.raises(InputError) as raised:
        engine.ingest(f"{database_name}.Object", [pa.table(data)])
    assert f"batch-0, row 42, {message}" in str(raised.value)
    assert len(engine.read_table(f"{database_name}.Object", include_overlap=True)) == 0
    assert engine.chunks(f"{database_name}.Object") == []


def test_bad_definitions_are_user_errors(engine, database_name):
    engine.create_database(database_name)
    with pytest.raises(UserError, match="kind director needs --ra"):
        engine.create_table(f"{database_name}.T", TableSpec(kind="director", columns=OBJECT_COLUMNS, id_column="objectId"))
    with pytest.raises(UserError, match="--id names 'nope', which is not a column"):
        engine.create_table(f"{database_name}.T", TableSpec(kind="director", columns=OBJECT_COLUMNS, id_column="nope",
                                                            ra_column="ra", dec_column="dec"))
    with pytest.raises(UserError, match="no table 'Missing'"):
        engine.create_table(f"{database_name}.S", TableSpec(kind="child", columns=SOURCE_COLUMNS,
                                                            director="Missing", director_key="objectId"))
    with pytest.raises(UserError, match="already exists"):
        engine.create_database(database_name)
    with pytest.raises(UserError, match="replication must be between 1 and the number of active workers"):
        engine.create_database(database_name + "x", replication=5)


def test_many_small_batches_give_the_same_rows_and_counts(engine, database_name):
    make_object_table(engine, database_name, replication=2)
    engine.settings["ingest_batch_rows"] = 997
    try:
        data = objects(12_000, seed=11)
        engine.ingest(f"{database_name}.Object", [data])
    finally:
        engine.settings["ingest_batch_rows"] = 1 << 20
    assert sorted_rows(engine.read_table(f"{database_name}.Object"), "objectId") == sorted_rows(data, "objectId")
    chunks = engine.chunks(f"{database_name}.Object")
    assert sum(rows for _, rows, _, _ in chunks) == len(data)
    assert all(len(workers) == 2 for _, _, _, workers in chunks)


def test_in_memory_batches_are_checked_like_files(engine, database_name):
    make_object_table(engine, database_name)
    table = f"{database_name}.Object"
    with pytest.raises(InputError, match="batch-0: the batch has column.s. the table does not: bogus"):
        engine.ingest(table, [objects(10).append_column("bogus", pa.array(range(10)))])
    with pytest.raises(InputError, match="batch-0: the batch lacks non-nullable column.s.: dec"):
        engine.ingest(table, [objects(10).drop_columns(["dec"])])
    with pytest.raises(InputError, match=r"batch-0, row 4, column 'mag': cannot read 'bright' as float"):
        engine.ingest(table, [objects(10).set_column(3, "mag", pa.array(["1", "2", "3", "bright"] + ["4"] * 6))])
    assert len(engine.read_table(table)) == 0
