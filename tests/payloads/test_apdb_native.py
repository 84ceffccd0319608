"""The native APDB API on both worker backends, checked against brute force over the rows stored."""

import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
import numpy as np
import pyarrow as pa
import pytest

from qserv.errors import InputError
from qserv.payloads.apdb import Apdb
from qserv.sphere import Circle, Polygon

BACKENDS = ["duckdb", "postgres"]
FIELD = Circle(30.0, -10.0, 0.3)


def tai(mjd):
    return Time(mjd, format="mjd", scale="tai")


def inside(region_centre, radius_deg, ra, dec):
    centre = SkyCoord(region_centre[0] * u.deg, region_centre[1] * u.deg)
    return centre.separation(SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg)).deg <= radius_deg


def positions(rng, count, spread_deg=0.5):
    return 30.0 + rng.uniform(-spread_deg, spread_deg, count), -10.0 + rng.uniform(-spread_deg, spread_deg, count)


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_and_read_latest_versions_and_history(backend, new_apdb, apdb_data):
    apdb = new_apdb(backend)
    rng = np.random.default_rng(7)
    ids = np.arange(1, 301)
    ra, dec = positions(rng, ids.size)
    first, second = 60000.25, 60200.25
    source_ids = ids * 10
    assert apdb.store(tai(first), apdb_data.objects(apdb, ids, ra, dec),
                      apdb_data.sources(apdb, source_ids, ids, ra, dec, 1, 4, first),
                      apdb_data.forced_sources(apdb, ids, ra, dec, 1, 4, first)) is not None
    # The second visit moves half of the objects (by up to 40 arcsec, less than max_move_arcsec:
    # some cross the field's edge) and gives them new versions.
    moved = ids[::2]
    ra2, dec2 = ra.copy(), dec.copy()
    ra2[::2] += rng.uniform(-40, 40, moved.size) / 3600 / np.cos(np.radians(dec[::2]))
    dec2[::2] += rng.uniform(-40, 40, moved.size) / 3600
    apdb.store(tai(second), apdb_data.objects(apdb, moved, ra2[::2], dec2[::2]),
               apdb_data.sources(apdb, source_ids[::2] + 1, moved, ra2[::2], dec2[::2], 2, 4, second))

    reopened = Apdb.open(apdb.engine, "apdb")
    objects = reopened.get_diaobjects(FIELD)
    assert objects.column_names == apdb.tables["DiaObject"].column_names
    expected = inside((30.0, -10.0), 0.3, ra2, dec2)
    assert expected.sum() != inside((30.0, -10.0), 0.3, ra, dec).sum()  # some crossed the edge
    assert sorted(objects["diaObjectId"].to_pylist()) == ids[expected].tolist()
    newest = {i: (second if i % 2 == 1 else first) for i in ids.tolist()}
    assert all(newest[i] == start for i, start in zip(objects["diaObjectId"].to_pylist(),
                                                       objects["validityStartMjdTai"].to_pylist()))

    # History: 12 months = 360 days before the visit, on midpointMjdTai.
    all_ra, all_dec = np.concatenate([ra, ra2[::2]]), np.concatenate([dec, dec2[::2]])
    all_mjd = np.concatenate([np.full(ids.size, first), np.full(moved.size, second)])
    all_ids = np.concatenate([source_ids, source_ids[::2] + 1])
    for visit_mjd in (first + 100, first + 360, first + 360.5, second + 370):
        read = apdb.get_diasources(FIELD, None, tai(visit_mjd))
        keep = inside((30.0, -10.0), 0.3, all_ra, all_dec) & (all_mjd > visit_mjd - 360)
        assert sorted(read["diaSourceId"].to_pylist()) == sorted(all_ids[keep].tolist())
        assert read.column_names == apdb.tables["DiaSource"].column_names
    # By ids: without a region, wherever they are; with one, within max_move_arcsec of it.
    wanted = ids[:50]
    of_wanted = np.isin(np.concatenate([ids, moved]), wanted) & (all_mjd >= first)
    by_id = apdb.get_diasources(None, wanted, tai(first + 360))
    assert sorted(by_id["diaSourceId"].to_pylist()) == sorted(all_ids[of_wanted].tolist())
    near = inside((30.0, -10.0), 0.3 + apdb.settings.max_move_arcsec / 3600, all_ra, all_dec)
    assert 0 < (of_wanted & near).sum() < of_wanted.sum()
    by_id = apdb.get_diasources(FIELD, wanted, tai(first + 360))
    assert sorted(by_id["diaSourceId"].to_pylist()) == sorted(all_ids[of_wanted & near].tolist())
    forced = apdb.get_diaforcedsources(None, wanted, tai(first + 10))
    assert sorted(forced["diaObjectId"].to_pylist()) == wanted.tolist()
    forced = apdb.get_diaforcedsources(FIELD, wanted, tai(first + 10))
    assert sorted(forced["diaObjectId"].to_pylist()) == wanted[near[:ids.size][:50]].tolist()
    assert apdb.get_diaforcedsources(FIELD, wanted, tai(first + 361)).num_rows == 0
    assert apdb.get_diasources(FIELD, [], tai(first)).num_rows == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_is_idempotent_and_visits_are_known(backend, new_apdb, apdb_data):
    apdb = new_apdb(backend)
    ids = np.arange(1, 11)
    ra, dec = np.full(10, 30.0) + ids * 1e-3, np.full(10, -10.0)
    args = (tai(60000.5), apdb_data.objects(apdb, ids, ra, dec),
            apdb_data.sources(apdb, ids, ids, ra, dec, 7, 3, 60000.5))
    assert not apdb.contains_visit_detector(7, 3)
    assert apdb.store(*args) is not None
    assert apdb.store(*args) is None
    assert apdb.contains_visit_detector(7, 3)
    assert not apdb.contains_visit_detector(7, 4) and not apdb.contains_visit_detector(8, 3)
    assert apdb.get_diasources(FIELD, None, tai(60001)).num_rows == 10
    # Another store of the same visit and detector (other sources) is not a retry.
    assert apdb.store(tai(60000.5), apdb_data.objects(apdb, ids, ra, dec),
                      apdb_data.sources(apdb, ids + 100, ids, ra, dec, 7, 3, 60000.5)) is not None
    assert apdb.get_diasources(FIELD, None, tai(60001)).num_rows == 20
    assert apdb.get_diaobjects(Polygon([29.9, 30.1, 30.1, 29.9], [-10.1, -10.1, -9.9, -9.9])).num_rows == 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_names_table_row_column_and_stores_nothing(backend, new_apdb, apdb_data):
    apdb = new_apdb(backend)
    ids = np.arange(1, 6)
    ra, dec = np.full(5, 30.0), np.full(5, -10.0)
    good_objects = apdb_data.objects(apdb, ids, ra, dec)
    good_sources = apdb_data.sources(apdb, ids, ids, ra, dec, 1, 1, 60000.5)
    bad_dec = dec.copy()
    bad_dec[3] = np.nan
    cases = [
        (good_objects.drop_columns(["ra"]), good_sources, "DiaObject", None, "ra", "missing"),
        (good_objects, apdb_data.sources(apdb, ids, ids, ra, bad_dec, 1, 1, 60000.5), "DiaSource", 4, "dec",
         "not a position"),
        (apdb_data.objects(apdb, [1, 2, 3, 2, 5], ra, dec), good_sources, "DiaObject", 4, "diaObjectId",
         "duplicate diaObjectId=2"),
        (good_objects.append_column("bogus", good_objects["ra"]), good_sources, "DiaObject", None, None, "'bogus'"),
        (good_objects.set_column(0, "diaObjectId", pa.array(["1", "2", "x3", "4", "5"])), good_sources,
         "DiaObject", 3, "diaObjectId", "do not fit long"),
    ]
    for objects, sources, table, row, column, reason in cases:
        with pytest.raises(InputError) as error:
            apdb.store(tai(60000.5), objects, sources)
        assert error.value.path == table and error.value.row == row and error.value.column == column
        assert reason in str(error.value)
    assert apdb.get_diaobjects(FIELD).num_rows == 0
    assert apdb.get_diasources(FIELD, None, tai(60001)).num_rows == 0
    assert not apdb.contains_visit_detector(1, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adql_join_of_sources_with_their_objects_matches_the_unsharded_join(backend, new_apdb, apdb_data):
    apdb = new_apdb(backend)
    for visit in (1, 2):
        apdb_data.store_visit(apdb, visit)
    apdb.store(tai(60005.0), apdb.get_diaobjects(Circle(30.0, -10.0, 0.5)).slice(0, 40))  # second versions
    query = ("SELECT s.diaSourceId, o.diaObjectId, o.validityStartMjdTai FROM apdb.DiaSource AS s "
             "JOIN apdb.DiaObject AS o ON s.diaObjectId = o.diaObjectId "
             "WHERE CONTAINS(POINT('ICRS', o.ra, o.dec), CIRCLE('ICRS', 30.0, -10.0, 0.2)) = 1")
    answer = apdb.engine.query(query)
    sources = apdb.engine.read_table("apdb.DiaSource").to_pylist()
    objects = apdb.engine.read_table("apdb.DiaObject").to_pylist()
    near = inside((30.0, -10.0), 0.2, [o["ra"] for o in objects], [o["dec"] for o in objects])
    expected = sorted((s["diaSourceId"], o["diaObjectId"], o["validityStartMjdTai"])
                      for o, keep in zip(objects, near) if keep for s in sources
                      if s["diaObjectId"] == o["diaObjectId"])
    got = sorted(zip(*(answer[c].to_pylist() for c in answer.column_names)))
    assert got == expected and len(got) > 50
