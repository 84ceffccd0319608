"""associate_visit on an APDB of the core (both worker backends): objects created, matched and
updated across visits as the sources were made; a retried visit is a no-op."""

import numpy as np
import pytest
from astropy.time import Time

from qserv.errors import InputError
from qserv.payloads.apdb.visit import associate_visit, field_circle
from qserv.sphere import Circle

BACKENDS = ["duckdb", "postgres"]


def visit_sources(apdb_data, apdb, visit, ids, ra, dec, mjd, band):
    count = len(ids)
    rng = np.random.default_rng(int(ids[0]))
    return apdb_data.rows(apdb, "DiaSource", diaSourceId=ids, visit=[visit] * count, detector=[3] * count,
                          ra=ra, dec=dec, midpointMjdTai=[mjd] * count,
                          band=[band] * count, psfFlux=rng.normal(100, 5, count),
                          psfFluxErr=rng.uniform(1, 2, count), timeProcessedMjdTai=[mjd] * count)


def test_field_circle_holds_the_points():
    rng = np.random.default_rng(1)
    ra, dec = 359.9 + rng.uniform(0, 0.2, 50) % 360, rng.uniform(-1, 1, 50)
    ra %= 360
    circle = field_circle(ra, dec, 3600.0)
    assert circle.contains(ra, dec).all()
    assert circle.radius_deg < 1.2 + 1.0 + 1e-9  # about the mean direction, not RA 180


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_visits_then_a_retry(backend, new_apdb, apdb_data):
    apdb = new_apdb(backend)
    rng = np.random.default_rng(18)
    ra, dec = 150 + rng.uniform(-0.05, 0.05, 40), 2 + rng.uniform(-0.05, 0.05, 40)
    first = associate_visit(apdb, 1, 3, visit_sources(apdb_data, apdb, 1, np.arange(100, 140), ra, dec, 60000.1, "g"),
                            Time(60000.1, format="mjd", scale="tai"))
    assert len(first.matches.source_index) == 0
    # Visit 2: the first 25 objects again (0.1" noise), and 15 new sources far from every object.
    again = 25
    ra2 = np.concatenate([ra[:again] + rng.normal(0, 0.1 / 3600, again), 150.2 + rng.uniform(0, 0.05, 15)])
    dec2 = np.concatenate([dec[:again] + rng.normal(0, 0.1 / 3600, again), 2 + rng.uniform(0, 0.05, 15)])
    sources = visit_sources(apdb_data, apdb, 2, np.arange(200, 240), ra2, dec2, 60001.1, "r")
    time = Time(60001.1, format="mjd", scale="tai")
    second = associate_visit(apdb, 2, 3, sources, time)
    matched = dict(zip(second.matches.source_index.tolist(), second.matches.object_index.tolist()))
    assert sorted(matched) == list(range(again))
    field = Circle(150.1, 2.0, 0.3)
    objects = apdb.get_diaobjects(field).to_pylist()
    assert len(objects) == 40 + 15
    counts = {row["diaObjectId"]: row["nDiaSources"] for row in objects}
    assert counts == {**{100 + k: 2 if k < again else 1 for k in range(40)}, **{200 + k: 1 for k in range(again, 40)}}
    stored = apdb.get_diasources(field, None, time).to_pylist()
    owners = {row["diaSourceId"]: row["diaObjectId"] for row in stored}
    assert owners == {**{100 + k: 100 + k for k in range(40)},
                      **{200 + k: (100 + k if k < again else 200 + k) for k in range(40)}}
    assert {row["diaObjectId"]: row["r_psfFluxNdata"] for row in objects if row["diaObjectId"] < 200} == \
        {100 + k: int(k < again) for k in range(40)}
    assert associate_visit(apdb, 2, 3, sources, time) is None  # retried: nothing read, nothing stored
    assert len(apdb.get_diasources(field, None, time)) == 80
    with pytest.raises(InputError, match=r"DiaSource, row 1, column 'visit': visit 2 is not the visit's 5"):
        associate_visit(apdb, 5, 3, second.sources, time)
