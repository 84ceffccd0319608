"""DiaObjectLast: region reads of DiaObjects read one row per object whatever the history, and
agree with the newest open version taken from every DiaObject version stored (the brute force);
an aborted write leaves the superseded versions in place."""

import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
import numpy as np
import pytest

from qserv.payloads.apdb import ApdbSettings
from qserv.payloads.apdb.tables import LATEST_TABLE
from qserv.sphere import Circle

FIELD = Circle(30.0, -10.0, 0.3)


def tai(mjd):
    return Time(mjd, format="mjd", scale="tai")


def brute_force_latest(apdb, region=True):
    """{diaObjectId: (validityStartMjdTai, nDiaSources, ra, dec)} of the objects whose newest
    version (highest apdbVersion of the newest validity interval) is open, from every DiaObject row
    stored; ``region``: only those in FIELD (astropy separations)."""
    rows = apdb.engine.query(f'SELECT * FROM "{apdb.database}"."DiaObject"', lang="adql").to_pylist()
    newest = {}
    for row in sorted(rows, key=lambda r: (r["validityStartMjdTai"], r["apdbVersion"])):
        newest[row["diaObjectId"]] = row
    latest = {i: (r["validityStartMjdTai"], r["nDiaSources"], r["ra"], r["dec"])
              for i, r in newest.items() if r["validityEndMjdTai"] is None}
    if not region:
        return latest
    ra, dec = np.array([v[2] for v in latest.values()]), np.array([v[3] for v in latest.values()])
    inside = SkyCoord(30.0 * u.deg, -10.0 * u.deg).separation(SkyCoord(ra * u.deg, dec * u.deg)).deg <= 0.3
    return {i: v for (i, v), keep in zip(latest.items(), inside) if keep}


def read_latest(apdb):
    rows = apdb.get_diaobjects(FIELD)
    ids = rows["diaObjectId"].to_pylist()
    assert len(ids) == len(set(ids))
    return {row["diaObjectId"]: (row["validityStartMjdTai"], row["nDiaSources"], row["ra"], row["dec"])
            for row in rows.to_pylist()}


def stored_rows(apdb, name):
    return sum(count for _, count, _, _ in apdb.engine.chunks(f"{apdb.database}.{name}"))


def visit_objects(apdb_data, apdb, rng, ids, counts):
    ra, dec = 30.0 + rng.uniform(-0.35, 0.35, ids.size), -10.0 + rng.uniform(-0.35, 0.35, ids.size)
    return apdb_data.rows(apdb, "DiaObject", diaObjectId=ids, ra=ra, dec=dec, nDiaSources=counts)


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_region_reads_one_row_per_object_as_the_brute_force(backend, new_apdb, apdb_data):
    apdb = new_apdb(backend, ApdbSettings(purge_after_s=0.0))
    rng = np.random.default_rng(3)
    ids = np.arange(1, 201)
    apdb.store(tai(60000.0), visit_objects(apdb_data, apdb, rng, ids, np.ones(ids.size)))
    for visit in range(1, 4):  # new versions of a random half each visit, moved anywhere in the patch
        again = np.sort(rng.choice(ids, 100, replace=False))
        apdb.store(tai(60000.0 + visit), visit_objects(apdb_data, apdb, rng, again, np.full(again.size, visit + 1)))
    closed = ids[::7]
    apdb.set_validity_end(closed.tolist(), 60003.5)
    assert stored_rows(apdb, "DiaObject") == 200 + 3 * 100 + closed.size  # the history is all there
    assert stored_rows(apdb, LATEST_TABLE) == 200 - closed.size           # one row per open object
    expected = brute_force_latest(apdb)
    assert 50 < len(expected) < 200 - closed.size
    assert read_latest(apdb) == expected
    unassociated = [i for i, (_, count, _, _) in brute_force_latest(apdb, region=False).items() if count == 1]
    assert apdb.count_unassociated_objects() == len(unassociated) > 0


def test_an_aborted_store_keeps_the_superseded_versions(new_apdb, apdb_data, monkeypatch):
    apdb = new_apdb("duckdb")
    rng = np.random.default_rng(5)
    ids = np.arange(1, 101)
    apdb.store(tai(60000.0), visit_objects(apdb_data, apdb, rng, ids, np.ones(ids.size)))
    before = read_latest(apdb)
    transactions = apdb.engine.transactions
    contribute = transactions.contribute

    def failing(transaction_id, name, rows, **kwargs):
        if name == LATEST_TABLE:  # after the superseded rows were deleted in the transaction
            raise RuntimeError("injected failure")
        return contribute(transaction_id, name, rows, **kwargs)

    monkeypatch.setattr(transactions, "contribute", failing)
    with pytest.raises(RuntimeError, match="injected"):
        apdb.store(tai(60001.0), visit_objects(apdb_data, apdb, rng, ids[:60], np.full(60, 2)))
    monkeypatch.undo()
    assert read_latest(apdb) == before
    assert stored_rows(apdb, LATEST_TABLE) == 100
