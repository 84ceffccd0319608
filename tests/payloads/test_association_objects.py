"""associate(): new DiaObject versions and their per-band statistics, against a per-object numpy
reference computed row by row; ids of new objects; bad input named by table, row and column."""

import numpy as np
import pyarrow as pa
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from qserv.errors import InputError
from qserv.payloads.apdb.association import BANDS, associate
from qserv.schema.felis import load_felis_tables, sdm_schema_path
from qserv.schema.types import arrow_schema

VISIT_TIME = 61000.5


@pytest.fixture(scope="module")
def schemas():
    tables = load_felis_tables(sdm_schema_path("apdb"))
    return {name: arrow_schema(tables[name].columns) for name in ("DiaObject", "DiaSource")}


def table(schema, rows, count):
    return pa.table({field.name: pa.array(rows[field.name], type=field.type) if field.name in rows
                     else pa.array([0] * count if not field.nullable else [None] * count, type=field.type)
                     for field in schema}, schema=schema)


def make_case(schemas, seed=0, objects=40, history_per_object=4):
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(30, 30.05, objects), rng.uniform(-5, -4.95, objects)
    object_ids = np.arange(objects) + 1000
    object_table = table(schemas["DiaObject"], {
        "diaObjectId": object_ids, "validityStartMjdTai": np.full(objects, 60000.0), "ra": ra, "dec": dec,
        "nDiaSources": rng.integers(history_per_object, 50, objects),
        "firstDiaSourceMjdTai": np.full(objects, 59000.0), "u_fpFluxMean": rng.normal(size=objects)}, objects)
    count = objects * history_per_object
    owner = np.repeat(object_ids, history_per_object)
    history = table(schemas["DiaSource"], {
        "diaSourceId": np.arange(count) + 1, "diaObjectId": owner, "visit": np.arange(count) // objects,
        "ra": np.repeat(ra, history_per_object) + rng.normal(0, 1e-5, count),
        "dec": np.repeat(dec, history_per_object) + rng.normal(0, 1e-5, count),
        "midpointMjdTai": 60500.0 + rng.integers(0, 30, count) * 0.5, "band": rng.choice(list(BANDS), count),
        "psfFlux": rng.normal(100, 10, count), "psfFluxErr": rng.uniform(1, 3, count),
        "scienceFlux": rng.normal(200, 10, count), "scienceFluxErr": rng.uniform(1, 3, count)}, count)
    # Half the visit's sources repeat objects (0.2" noise), half are new.
    visit_count = objects
    repeat = rng.permutation(objects)[: visit_count // 2]
    new_ra, new_dec = rng.uniform(30.1, 30.2, visit_count // 2), rng.uniform(-5, -4.9, visit_count // 2)
    visit = table(schemas["DiaSource"], {
        "diaSourceId": np.arange(visit_count) + 10_000, "visit": np.full(visit_count, 99),
        "ra": np.concatenate([ra[repeat] + rng.normal(0, 0.2 / 3600, len(repeat)), new_ra]),
        "dec": np.concatenate([dec[repeat] + rng.normal(0, 0.2 / 3600, len(repeat)), new_dec]),
        "midpointMjdTai": np.full(visit_count, VISIT_TIME), "band": rng.choice(list(BANDS), visit_count),
        "psfFlux": rng.normal(100, 10, visit_count), "psfFluxErr": rng.uniform(1, 3, visit_count),
        "scienceFlux": rng.normal(200, 10, visit_count), "scienceFluxErr": rng.uniform(1, 3, visit_count)},
        visit_count)
    return object_table, history, visit


def reference_statistics(rows):
    """The statistics of one object from its source rows (a list of dicts), one band at a time."""
    vectors = SkyCoord([r["ra"] for r in rows] * u.deg, [r["dec"] for r in rows] * u.deg).cartesian.xyz.value
    mean = SkyCoord(*vectors.sum(axis=1), representation_type="cartesian").spherical
    expected = {"ra": mean.lon.deg, "dec": mean.lat.deg, "lastDiaSourceMjdTai": max(r["midpointMjdTai"] for r in rows)}
    for band in BANDS:
        mine = sorted((r for r in rows if r["band"] == band), key=lambda r: (r["midpointMjdTai"], r["diaSourceId"]))
        flux = np.array([r["psfFlux"] for r in mine])
        weight = np.array([r["psfFluxErr"] ** -2.0 for r in mine])
        science = np.array([r["scienceFlux"] for r in mine])
        science_weight = np.array([r["scienceFluxErr"] ** -2.0 for r in mine])
        times = np.array([r["midpointMjdTai"] for r in mine])
        slopes = [(flux[k] - flux[k - 1]) / (times[k] - times[k - 1]) for k in range(1, len(mine))
                  if times[k] != times[k - 1]]
        expected[f"{band}_psfFluxNdata"] = len(mine)
        if mine:
            expected[f"{band}_psfFluxMean"] = (weight * flux).sum() / weight.sum()
            expected[f"{band}_psfFluxMeanErr"] = weight.sum() ** -0.5
            expected[f"{band}_psfFluxMin"], expected[f"{band}_psfFluxMax"] = flux.min(), flux.max()
            expected[f"{band}_psfFluxErrMean"] = np.mean([r["psfFluxErr"] for r in mine])
            expected[f"{band}_scienceFluxMean"] = (science_weight * science).sum() / science_weight.sum()
        expected[f"{band}_psfFluxSigma"] = flux.std(ddof=1) if len(mine) > 1 else None
        expected[f"{band}_psfFluxMaxSlope"] = max(slopes) if slopes else None
    return expected


def test_object_versions_match_the_reference(schemas):
    objects, history, visit = make_case(schemas)
    result = associate(visit, objects, history, VISIT_TIME)
    assert result.objects.schema == objects.schema
    assert len(result.matches.source_index) == len(visit) // 2
    sources = result.sources.to_pylist()
    by_object = {}
    for row in history.to_pylist() + sources:
        by_object.setdefault(row["diaObjectId"], []).append(row)
    old = {row["diaObjectId"]: row for row in objects.to_pylist()}
    for row in result.objects.to_pylist():
        expected = reference_statistics(by_object[row["diaObjectId"]])
        for name, value in expected.items():
            if value is None:
                assert row[name] is None, name
            else:
                assert row[name] == pytest.approx(value, rel=1e-5, abs=1e-9), name
        assert row["validityStartMjdTai"] == VISIT_TIME and row["validityEndMjdTai"] is None
        if row["diaObjectId"] in old:
            assert row["nDiaSources"] == old[row["diaObjectId"]]["nDiaSources"] + 1
            assert row["firstDiaSourceMjdTai"] == 59000.0
            assert row["u_fpFluxMean"] == pytest.approx(old[row["diaObjectId"]]["u_fpFluxMean"])
        else:
            assert row["nDiaSources"] == 1 and row["firstDiaSourceMjdTai"] == VISIT_TIME
    new_ids = {row["diaObjectId"] for row in result.objects.to_pylist()} - set(old)
    unmatched = visit.take(pa.array(result.matches.unmatched_source_index)).column("diaSourceId").to_pylist()
    assert new_ids == set(unmatched)  # new objects take the ids of their sources
    assert {s["diaSourceId"]: s["diaObjectId"] for s in sources if s["diaSourceId"] in new_ids} == \
        {i: i for i in new_ids}


def test_association_is_deterministic_and_needs_no_history(schemas):
    objects, history, visit = make_case(schemas, seed=5)
    first = associate(visit, objects, None, VISIT_TIME)
    again = associate(visit.take(pa.array(np.arange(len(visit))[::-1])), objects, None, VISIT_TIME)
    assert sorted(first.sources.to_pylist(), key=str) == sorted(again.sources.to_pylist(), key=str)
    assert sorted(first.objects.to_pylist(), key=str) == sorted(again.objects.to_pylist(), key=str)


def test_bad_input_names_table_row_and_column(schemas):
    objects, history, visit = make_case(schemas, objects=6)
    ids = visit.column("diaSourceId").to_numpy().copy()
    ids[3] = ids[1]
    duplicated = visit.set_column(visit.schema.get_field_index("diaSourceId"), "diaSourceId", pa.array(ids))
    with pytest.raises(InputError, match=r"DiaSource, row 4, column 'diaSourceId': duplicate diaSourceId"):
        associate(duplicated, objects, history, VISIT_TIME)
    with pytest.raises(InputError, match=r"DiaObject, column 'ra': missing column"):
        associate(visit, objects.drop_columns(["ra"]), history, VISIT_TIME)
    clash = visit.set_column(visit.schema.get_field_index("diaSourceId"), "diaSourceId",
                             pa.array(np.arange(len(visit)) + 1000 + len(objects) - len(visit)))  # the last (new) source
    with pytest.raises(InputError, match="also the id of an existing DiaObject"):
        associate(clash, objects.slice(len(objects) - 1), None, VISIT_TIME)
