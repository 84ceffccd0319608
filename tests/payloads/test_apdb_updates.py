"""Updates of stored APDB rows (new versions, one transaction each) on both worker backends:
reassignment between DiaObjects and to SSObjects, withdrawals, validity ends, dedup reads,
counts and replica chunks, checked against the state the same changes give in plain Python."""

from astropy.time import Time
import numpy as np
import pytest

from qserv.payloads.apdb import ApdbSettings
from qserv.payloads.apdb.updates import MissingRowsError, UpdateLog
from qserv.sphere import Circle

BACKENDS = ["duckdb", "postgres"]
FIELD = Circle(30.0, -10.0, 0.5)
MJD = 60000.5


def tai(mjd):
    return Time(mjd, format="mjd", scale="tai")


def source_owners(apdb, object_ids=None):
    rows = apdb.get_diasources(None if object_ids is not None else FIELD, object_ids, tai(MJD + 1))
    return dict(zip(rows["diaSourceId"].to_pylist(), rows["diaObjectId"].to_pylist()))


@pytest.mark.parametrize("backend", BACKENDS)
def test_updates_are_new_versions_read_as_current(backend, new_apdb, apdb_data):
    apdb = new_apdb(backend, ApdbSettings(enable_replica=True))
    ids = np.arange(1, 7)
    ra, dec = 30.0 + ids * 1e-3, np.full(ids.size, -10.0)
    objects = apdb_data.rows(apdb, "DiaObject", diaObjectId=ids, ra=ra, dec=dec, nDiaSources=[1] * ids.size)
    apdb.store(tai(MJD), objects, apdb_data.sources(apdb, ids * 10, ids, ra, dec, 1, 1, MJD))
    owners = {i * 10: i for i in ids.tolist()}   # the expected state, changed as the APDB is
    counts = {i: 1 for i in ids.tolist()}
    assert source_owners(apdb) == owners

    apdb.reassign_to_objects({20: 1, 30: 1})
    owners.update({20: 1, 30: 1})
    counts.update({1: 3, 2: 0, 3: 0})
    assert source_owners(apdb) == owners
    assert source_owners(apdb, [1]) == {10: 1, 20: 1, 30: 1}
    assert source_owners(apdb, [2, 3]) == {}
    current = apdb.get_diaobjects(FIELD)
    assert dict(zip(current["diaObjectId"].to_pylist(), current["nDiaSources"].to_pylist())) == counts

    apdb.reassign_to_ssobjects({40: 77}, MJD + 0.5)
    owners[40] = 0
    assert source_owners(apdb) == owners and source_owners(apdb, [4]) == {}
    moved = apdb.get_diasources(FIELD, [0], tai(MJD + 1)).to_pylist()
    assert [(r["diaSourceId"], r["ssObjectId"], r["ssObjectReassocTimeMjdTai"]) for r in moved] == [(40, 77, MJD + 0.5)]

    assert apdb.withdraw_sources([50], MJD + 0.25).num_rows == 1
    assert apdb.withdraw_sources([50, 60], MJD + 0.75).num_rows == 1  # 50 keeps its first time
    withdrawn = apdb.get_diasources(FIELD, None, tai(MJD + 1))
    assert dict(zip(withdrawn["diaSourceId"].to_pylist(), withdrawn["timeWithdrawnMjdTai"].to_pylist())) == {
        10: None, 20: None, 30: None, 40: None, 50: MJD + 0.25, 60: MJD + 0.75}

    assert apdb.count_unassociated_objects() == sum(1 for c in counts.values() if c == 1)
    assert apdb.set_validity_end([6, 99], MJD + 0.5).num_rows == 1
    del counts[6]
    assert sorted(apdb.get_diaobjects(FIELD)["diaObjectId"].to_pylist()) == sorted(counts)
    assert apdb.count_unassociated_objects() == sum(1 for c in counts.values() if c == 1)
    with pytest.raises(MissingRowsError, match="DiaObject: 1 diaObjectId values do not exist: 99"):
        apdb.set_validity_end([5, 99], MJD + 0.5, raise_on_missing=True)
    with pytest.raises(MissingRowsError, match="DiaSource: 2 diaSourceId values do not exist: 1, 2"):
        apdb.withdraw_sources([10, 1, 2], MJD)
    assert source_owners(apdb) == owners  # the refused updates changed nothing

    # Dedup reads: versions valid from a time on; updates keep their validity start.
    assert apdb.get_diaobjects_for_dedup(MJD).num_rows == 6
    assert apdb.get_diaobjects_for_dedup(MJD + 0.1).num_rows == 0
    apdb.reset_dedup(MJD + 0.1)
    assert apdb.get_diaobjects_for_dedup().num_rows == 0

    # Replica chunks: the store's rows in its chunk; update records in theirs, deletable.
    chunk = apdb.replica_chunks()["apdb_replica_chunk"].to_pylist()
    assert len(chunk) == 1 and apdb.table_chunk_rows("DiaSource", chunk).num_rows == 6
    apdb.store_update_records(UpdateLog(chunk[0] + 600, MJD + 1, lambda _: [(5, 1, "b"), (5, 0, "a")]))
    records = apdb.update_record_rows([chunk[0] + 600])
    assert records["update_payload"].to_pylist() == ["a", "b"]
    apdb.delete_replica_chunks(chunk)
    assert apdb.replica_chunks()["apdb_replica_chunk"].to_pylist() == [chunk[0] + 600]
    assert apdb.table_chunk_rows("DiaSource", chunk).num_rows == 0
