"""Synthetic catalogs for the benchmarks, generated once per size and seed and cached as Parquet
under bench/data/ (git-ignored).

- ``objects_parquet``: the 12-column table of the ingest-visit and TAP sections.
- ``director_parquet``: the director table of the peer comparison: id, ra, dec + 17 columns.
- ``child_parquet``: its child table, 1 to 5 rows per director (3 on average) near the parent.
- ``match_parquet``: a smaller director table to crossmatch with the director table: half of its
  rows are within about 0.3 arcsec of a director row, half are anywhere.
"""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).parent / "data"
EXTRA_COLUMNS = 9  # with id, ra, dec: 12 columns
ROW_GROUP = 1 << 18
BATCH_ROWS = 1 << 21  # generation step of the large tables (bounded memory)
CHILD_OFFSET_ARCSEC = 0.5
MATCH_OFFSET_ARCSEC = 0.3


def log(message):
    print(message, file=sys.stderr, flush=True)


def uniform_sky(rng, rows):
    """(ra, dec) in degrees, uniform on the sphere."""
    return rng.uniform(0.0, 360.0, rows), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, rows)))


def jitter(rng, ra, dec, sigma_arcsec):
    """Positions moved by a Gaussian offset of ``sigma_arcsec`` on the sky (per axis)."""
    sigma = sigma_arcsec / 3600.0
    dec_new = np.clip(dec + rng.normal(0.0, sigma, len(dec)), -90.0, 90.0)
    cos_dec = np.maximum(np.cos(np.radians(dec_new)), 1e-6)
    ra_new = np.mod(ra + rng.normal(0.0, sigma, len(ra)) / cos_dec, 360.0)
    return ra_new, dec_new


def synthetic_objects(rows, seed=0, first_id=0):
    """A director-like table: id, ra, dec uniform on the sphere, then float64 columns."""
    rng = np.random.default_rng(seed)
    ra, dec = uniform_sky(rng, rows)
    columns = {"id": np.arange(first_id, first_id + rows, dtype=np.int64), "ra": ra, "dec": dec}
    for k in range(EXTRA_COLUMNS):
        columns[f"flux_{k}"] = rng.normal(size=rows)
    return pa.table(columns)


def _cached(name, write):
    path = DATA_DIR / name
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        log(f"[data] generating {path.name}")
        scratch = path.with_suffix(".tmp")
        write(scratch)
        scratch.rename(path)
    return path


def objects_parquet(rows, seed=0):
    """Path of a cached Parquet file of ``synthetic_objects(rows, seed)``."""
    return _cached(f"objects_{rows}_{seed}.parquet",
                   lambda scratch: pq.write_table(synthetic_objects(rows, seed), scratch, row_group_size=ROW_GROUP))


# -- the peer comparison: director, child and match tables ---------------------------------------------

def director_batch(rng, first_id, rows):
    """20 columns: id, ra, dec, 10 float64 fluxes (flux_0..flux_9), 3 float32 magnitudes,
    parallax, 2 int32 counters and an int64 flag word."""
    ra, dec = uniform_sky(rng, rows)
    columns = {"id": np.arange(first_id, first_id + rows, dtype=np.int64), "ra": ra, "dec": dec}
    for k in range(10):
        columns[f"flux_{k}"] = rng.normal(size=rows)
    for band in "gri":
        columns[f"mag_{band}"] = rng.normal(21.0, 1.5, rows).astype(np.float32)
    columns["parallax"] = rng.exponential(1.0, rows)
    columns["nobs"] = rng.integers(0, 500, rows, dtype=np.int32)
    columns["nsrc"] = rng.integers(0, 50, rows, dtype=np.int32)
    columns["flags"] = rng.integers(0, 1 << 40, rows, dtype=np.int64)
    return pa.table(columns)


def _write_batches(scratch, batches):
    writer = None
    try:
        for batch in batches:
            if writer is None:
                writer = pq.ParquetWriter(scratch, batch.schema)
            writer.write_table(batch, row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()


def director_parquet(rows, seed=0):
    """Path of the cached director table of ``rows`` rows (ids 0..rows-1)."""
    def batches():
        rng = np.random.default_rng([seed, rows, 1])
        for first in range(0, rows, BATCH_ROWS):
            yield director_batch(rng, first, min(BATCH_ROWS, rows - first))

    return _cached(f"director_{rows}_{seed}.parquet", lambda scratch: _write_batches(scratch, batches()))


def child_parquet(rows, seed=0):
    """Path of the cached child table of the director table of ``rows`` rows: 1 to 5 rows per
    director (3 on average): sourceId, objectId, ra/dec within ~0.5 arcsec of the director,
    psfFlux, psfFluxErr, mjd (float64) and band (int32)."""
    director = director_parquet(rows, seed)

    def batches():
        rng = np.random.default_rng([seed, rows, 2])
        first_source = 0
        for batch in pq.ParquetFile(director).iter_batches(batch_size=BATCH_ROWS, columns=["id", "ra", "dec"]):
            counts = rng.integers(1, 6, batch.num_rows)
            parent = np.repeat(np.arange(batch.num_rows), counts)
            count = len(parent)
            ra, dec = jitter(rng, batch.column("ra").to_numpy()[parent], batch.column("dec").to_numpy()[parent],
                             CHILD_OFFSET_ARCSEC)
            yield pa.table({
                "sourceId": np.arange(first_source, first_source + count, dtype=np.int64),
                "objectId": batch.column("id").to_numpy()[parent],
                "ra": ra, "dec": dec,
                "psfFlux": rng.normal(size=count), "psfFluxErr": rng.exponential(0.1, count),
                "mjd": rng.uniform(60000.0, 63650.0, count),
                "band": rng.integers(0, 6, count, dtype=np.int32),
            })
            first_source += count

    return _cached(f"child_{rows}_{seed}.parquet", lambda scratch: _write_batches(scratch, batches()))


def match_parquet(rows, director_rows, seed=0):
    """Path of the cached match table: ``rows`` rows (id, ra, dec, mag); the first half are
    director rows (of the table of ``director_rows``) moved by ~0.3 arcsec, the rest uniform."""
    def write(scratch):
        rng = np.random.default_rng([seed, rows, director_rows, 3])
        near = rows // 2
        picked = np.sort(rng.choice(director_rows, near, replace=False))
        positions = pq.read_table(director_parquet(director_rows, seed), columns=["ra", "dec"])
        ra_near, dec_near = jitter(rng, positions.column("ra").to_numpy()[picked],
                                   positions.column("dec").to_numpy()[picked], MATCH_OFFSET_ARCSEC)
        ra_far, dec_far = uniform_sky(rng, rows - near)
        pq.write_table(pa.table({
            "id": np.arange(rows, dtype=np.int64),
            "ra": np.concatenate([ra_near, ra_far]), "dec": np.concatenate([dec_near, dec_far]),
            "mag": rng.normal(18.0, 2.0, rows),
        }), scratch, row_group_size=ROW_GROUP)

    return _cached(f"match_{rows}_{director_rows}_{seed}.parquet", write)


def cone_centres(count, seed=7):
    """``count`` (ra, dec) cone centres, uniform on the sphere, the same for every system."""
    ra, dec = uniform_sky(np.random.default_rng(seed), count)
    return list(zip(ra.tolist(), dec.tolist()))
