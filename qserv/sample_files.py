"""``qserv sample-files DIR``: input files for the README's quick start, made from the bundled
Gaia DR3 catalog (``qserv.ingest.bundled``), so that every command of the quick start runs as
written on a fresh machine.

- ``objects-1.parquet``, ``objects-2.parquet``: the stars of two halves of the sky by RA
  (objectId = Gaia source_id, ra, dec, gmag, bp_rp);
- ``sources.parquet`` and ``sources.csv``: ``SOURCES_PER_OBJECT`` simulated detections of every
  100th star (sourceId, objectId, mjd, ra, dec, psfFlux in nJy), the same rows in both; in the CSV
  a flux that was not measured is written ``\\N``, as MySQL dumps write NULL.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from qserv.errors import UserError
from qserv.ingest.bundled import gaia_dr3

SOURCES_PER_OBJECT = 3
EVERY_NTH_STAR = 100
FIRST_MJD = 60800.0
POSITION_NOISE_ARCSEC = 0.05
AB_ZERO_POINT_NJY = 3631e9  # flux of magnitude 0 in the AB system, in nJy
FILES = ("objects-1.parquet", "objects-2.parquet", "sources.parquet", "sources.csv")


def objects_table():
    stars, _ = gaia_dr3()
    bp_rp = pc.subtract(stars.column("phot_bp_mean_mag"), stars.column("phot_rp_mean_mag"))
    return pa.table({"objectId": stars.column("source_id"), "ra": stars.column("ra"),
                     "dec": stars.column("dec"), "gmag": stars.column("phot_g_mean_mag"), "bp_rp": bp_rp})


def sources_table(objects, seed=1):
    rng = np.random.default_rng(seed)
    chosen = objects.take(np.arange(0, objects.num_rows, EVERY_NTH_STAR))
    count = chosen.num_rows * SOURCES_PER_OBJECT
    repeat = np.repeat(np.arange(chosen.num_rows), SOURCES_PER_OBJECT)
    ra = chosen.column("ra").to_numpy()[repeat]
    dec = chosen.column("dec").to_numpy()[repeat]
    noise_deg = POSITION_NOISE_ARCSEC / 3600.0
    gmag = chosen.column("gmag").to_numpy()[repeat].astype(np.float64)
    flux = AB_ZERO_POINT_NJY * 10 ** (-0.4 * gmag) * rng.normal(1.0, 0.02, count)
    return pa.table({
        "sourceId": np.arange(1, count + 1, dtype=np.int64),
        "objectId": chosen.column("objectId").to_numpy()[repeat],
        "mjd": FIRST_MJD + np.tile(np.arange(SOURCES_PER_OBJECT), chosen.num_rows) * 3.0,
        "ra": (ra + rng.normal(0, noise_deg, count) / np.cos(np.radians(dec))) % 360.0,
        "dec": np.clip(dec + rng.normal(0, noise_deg, count), -90.0, 90.0),
        "psfFlux": pa.array(flux, mask=rng.random(count) < 0.05),
    })


def write_sample_files(folder):
    """Write FILES into ``folder`` (created if missing); refuses to overwrite any of them."""
    folder = Path(folder)
    existing = [name for name in FILES if (folder / name).exists()]
    if existing:
        raise UserError(f"{folder}: {', '.join(existing)} already exist (remove them first)")
    folder.mkdir(parents=True, exist_ok=True)
    objects = objects_table()
    east = pc.less(objects.column("ra"), 180.0)
    pq.write_table(objects.filter(east), folder / "objects-1.parquet")
    pq.write_table(objects.filter(pc.invert(east)), folder / "objects-2.parquet")
    sources = sources_table(objects)
    pq.write_table(sources, folder / "sources.parquet")
    pacsv.write_csv(_with_null_marker(sources), folder / "sources.csv",
                    write_options=pacsv.WriteOptions(quoting_style="none"))
    return [folder / name for name in FILES]


def _with_null_marker(table):
    """``table`` with NULL floats written as ``\\N`` (CSV has no NULL of its own)."""
    columns = []
    for column in table.columns:
        if column.null_count:
            column = pc.fill_null(pc.cast(column, pa.string()), "\\N")
        columns.append(column)
    return pa.table(columns, names=table.column_names)
