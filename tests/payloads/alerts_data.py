"""Test data for the alert tests: an APDB filled by ``associate_visit`` over a few visits (a fixed
set of sky positions, each seen in a random subset of the visits, plus forced photometry)."""

from astropy.time import Time
import numpy as np

from qserv.payloads.apdb.visit import associate_visit

BANDS = ["u", "g", "r", "i", "z", "y"]
FIRST_MJD_TAI = 60000.0
DAYS_BETWEEN_VISITS = 10.0
EARLY_DAYS = 400.0  # visit 1 lies this long before visit 2: outside the 12-month history of the others


def visit_time(visit):
    days = DAYS_BETWEEN_VISITS * (visit - 1) - (EARLY_DAYS if visit == 1 else 0.0)
    return Time(FIRST_MJD_TAI + days, format="mjd", scale="tai")


def populate(apdb, apdb_data, visits=4, positions=60, seed=7):
    """Associate ``visits`` visits (numbered 1..visits, detector 3) of DiaSources near ``positions``
    fixed points around (30, -10) deg; returns the visit numbers."""
    rng = np.random.default_rng(seed)
    ra0 = 30.0 + rng.uniform(-1.0, 1.0, positions)
    dec0 = -10.0 + rng.uniform(-1.0, 1.0, positions)
    for visit in range(1, visits + 1):
        seen = np.flatnonzero(rng.uniform(size=positions) < 0.7)
        count = len(seen)
        jitter_deg = rng.normal(0.0, 0.05, (2, count)) / 3600.0
        mjd = float(visit_time(visit).tai.mjd)
        ids = visit * 10_000 + seen
        sources = apdb_data.rows(
            apdb, "DiaSource", diaSourceId=ids, ra=ra0[seen] + jitter_deg[0], dec=dec0[seen] + jitter_deg[1],
            visit=[visit] * count, detector=[3] * count,
            midpointMjdTai=mjd + rng.uniform(0, 0.01, count), band=[BANDS[(visit + i) % 6] for i in seen],
            psfFlux=rng.normal(1000.0, 300.0, count), psfFluxErr=rng.uniform(10.0, 50.0, count),
            snr=rng.uniform(5.0, 100.0, count), reliability=rng.uniform(0.0, 1.0, count),
            x=rng.uniform(0, 4000, count), y=rng.uniform(0, 4000, count), timeProcessedMjdTai=[mjd + 0.01] * count)
        associate_visit(apdb, visit, 3, sources, visit_time(visit))
        objects = apdb.get_diaobjects(_field(ra0, dec0))
        forced = apdb_data.rows(
            apdb, "DiaForcedSource", diaForcedSourceId=visit * 100_000 + np.arange(objects.num_rows),
            diaObjectId=objects.column("diaObjectId").to_numpy(), ra=objects.column("ra").to_numpy(),
            dec=objects.column("dec").to_numpy(), visit=[visit] * objects.num_rows, detector=[4] * objects.num_rows,
            midpointMjdTai=[mjd] * objects.num_rows, psfFlux=rng.normal(900.0, 100.0, objects.num_rows))
        apdb.store(visit_time(visit), None, None, forced)
    return list(range(1, visits + 1))


def _field(ra, dec):
    from qserv.sphere import Circle

    return Circle(float(np.mean(ra)), float(np.mean(dec)), 2.0)
