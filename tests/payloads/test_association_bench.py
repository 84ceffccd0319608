"""The APDB benchmark (bench/apdb_bench.py) on a tiny workload: the generator's visits overlap and
repeat their real objects, every system's matches agree with the brute force, the report and the
plot are written."""

import csv

import numpy as np
import pytest

from bench.apdb_bench import VisitGenerator, Workload, bench_apdb, schemas
from qserv.sphere import angular_separation_deg


def test_generator_repeats_real_objects_and_overlaps_fields():
    workload = Workload(visits=6, sources=400, field_deg=0.4, patch_deg=0.2)
    generator = VisitGenerator(workload, schemas()["DiaSource"])
    first, second = generator.sources(0), generator.sources(1)
    assert first.num_rows == second.num_rows == 400
    assert len(set(first["diaSourceId"].to_pylist()) & set(second["diaSourceId"].to_pylist())) == 0
    for table, visit in ((first, 0), (second, 1)):
        ra0, dec0, radius = generator.field(visit)
        assert (angular_separation_deg(table["ra"].to_numpy(), table["dec"].to_numpy(), ra0, dec0) <= radius).all()
    # Some sources of visit 1 lie within 1" of a source of visit 0 (the same true object).
    near = [np.min(angular_separation_deg(first["ra"].to_numpy(), first["dec"].to_numpy(), ra, dec)) * 3600 < 1
            for ra, dec in zip(second["ra"].to_numpy()[:100], second["dec"].to_numpy()[:100])]
    assert sum(near) > 10


def test_tiny_run_agrees_with_brute_force(tmp_path):
    pytest.importorskip("lsst.dax.apdb")
    lines = bench_apdb(["--visits", "2", "--sources", "300", "--field-deg", "0.3", "--patch-deg", "0.2",
                        "--systems", "qserv,apdbsql-sqlite", "--output", str(tmp_path)])
    rows = list(csv.DictReader((tmp_path / "cycles.csv").open()))
    assert {row["system"] for row in rows} == {"qserv (embedded default)", "ApdbSql (SQLite)"}
    assert all(row["brute_force_agrees"] == "True" for row in rows)
    by_system = {}
    for row in rows:
        by_system.setdefault(row["visit"], set()).add(row["matches"])
    assert all(len(matches) == 1 for matches in by_system.values())  # same answers on both systems
    assert int(rows[-1]["matches"]) > 0
    assert any("2/2" in line for line in lines)
    assert (tmp_path / "apdb_cycle_time.png").stat().st_size > 1000
