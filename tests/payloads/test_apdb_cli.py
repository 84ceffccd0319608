"""`qserv apdb create|store|read|stats` end to end: output, retries, user errors (exit 2)."""

import io

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from qserv.payloads.apdb.tables import apdb_tables
from tests.cli_run import ok, run as run_cli


class Bare:
    """What the row builders of apdb_data need of an Apdb: its tables."""
    tables = apdb_tables("apdb")


def run(home, *args):
    return run_cli(home, "apdb", *args)


def test_apdb_commands(tmp_path, new_instance, apdb_data):
    home = tmp_path / "home"
    new_instance(home, "duckdb", 2)
    assert "created APDB apdb (DiaObject, DiaSource, DiaForcedSource, metadata, SSObject)" in ok(run(home, "create"))
    rng = np.random.default_rng(3)
    ids = np.arange(1, 51)
    ra, dec = 30.0 + rng.uniform(-0.2, 0.2, ids.size), -10.0 + rng.uniform(-0.2, 0.2, ids.size)
    files = {name: tmp_path / f"{name}.parquet" for name in ("objects", "sources")}
    pq.write_table(apdb_data.objects(Bare, ids, ra, dec), files["objects"])
    pq.write_table(apdb_data.sources(Bare, ids, ids, ra, dec, 5, 1, 60000.5), files["sources"])
    store = ["store", "--visit-time", "60000.5", "--objects", str(files["objects"]), "--sources", str(files["sources"])]
    assert "committed: 50 DiaObject, 50 DiaSource" in ok(run(home, *store))
    assert ok(run(home, *store)).startswith("already stored: nothing done")

    inside = np.hypot((ra - 30.0) * np.cos(np.radians(dec)), dec + 10.0) <= 0.1  # small field: flat is exact enough
    text = ok(run(home, "read", "objects", "--ra", "30", "--dec", "-10", "--radius", "0.1"))
    read = pcsv.read_csv(io.BytesIO(text.encode()))
    assert sorted(read["diaObjectId"].to_pylist()) == ids[inside].tolist()
    out = tmp_path / "history.parquet"
    assert "50 DiaSource rows written" in ok(run(home, "read", "sources", "--ra", "30", "--dec", "-10", "--radius", "1",
                                                 "--visit-time", "60001", "--output", str(out)))
    assert pq.read_table(out).num_rows == 50
    stats = ok(run(home, "stats"))
    assert "DiaObject\t50" in stats and "DiaObjectLast\t50" in stats and "ApdbVisitDetector\t1" in stats
    assert "unassociated DiaObjects\t0" in stats

    for args, message in [(["read", "sources", "--ra", "30", "--dec", "-10", "--radius", "1"], "needs --visit-time"),
                          (["store", "--visit-time", "1", "--objects", str(tmp_path / "none.parquet")], "no such file"),
                          (["stats", "--db", "nodb"], "no APDB in database 'nodb'"),
                          (["store", "--visit-time", "60002", "--objects", str(files["sources"])],
                           "DiaObject: columns not in the schema")]:
        result = run(home, *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
