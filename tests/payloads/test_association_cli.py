"""`qserv apdb associate` end to end: two visits from Parquet files, the retry a no-op, bad input
(a source of another visit, a missing file, a non-positive radius) exits 2 with a clear message."""

import pyarrow.parquet as pq
import pytest

from bench.apdb_bench import VisitGenerator, Workload, schemas
from tests.cli_run import ok, run, user_error


@pytest.fixture(scope="module")
def visits(tmp_path_factory):
    """Two overlapping visits of the benchmark's generator, as Parquet files, and their times."""
    generator = VisitGenerator(Workload(visits=2, sources=200, field_deg=0.2, patch_deg=0.05),
                               schemas()["DiaSource"])
    folder = tmp_path_factory.mktemp("visits")
    files = []
    for visit in range(2):
        path = folder / f"visit{visit}.parquet"
        pq.write_table(generator.sources(visit).drop_columns(["diaObjectId"]), path)
        files.append((path, generator.visit_time_mjd(visit)))
    return files


def test_associate_two_visits_then_retry(tmp_path, visits):
    home = tmp_path / "home"
    ok(run(home, "init", "--workers", "2"))
    ok(run(home, "apdb", "create"))
    (first, first_mjd), (second, second_mjd) = visits
    out = ok(run(home, "apdb", "associate", "--visit", "0", "--detector", "0", "--visit-time", str(first_mjd),
                 "--sources", str(first)))
    assert "200 DiaSources: 0 matched, 200 new DiaObjects" in out
    out = ok(run(home, "apdb", "associate", "--visit", "1", "--detector", "0", "--visit-time", str(second_mjd),
                 "--sources", str(second)))
    matched = int(out.split(" matched")[0].rsplit(" ", 1)[1])
    assert 0 < matched < 200 and f"{200 - matched} new DiaObjects" in out
    again = ok(run(home, "apdb", "associate", "--visit", "1", "--detector", "0", "--visit-time", str(second_mjd),
                   "--sources", str(second)))
    assert "already stored" in again
    objects = ok(run(home, "apdb", "read", "objects", "--ra", "60", "--dec", "-30", "--radius", "1"))
    assert len(objects.strip().splitlines()) == 1 + 400 - matched
    user_error(run(home, "apdb", "associate", "--visit", "7", "--detector", "0", "--visit-time", "60000",
                   "--sources", str(first)), "column 'visit': visit 0 is not the visit's 7")
    user_error(run(home, "apdb", "associate", "--visit", "7", "--detector", "0", "--visit-time", "60000",
                   "--sources", str(tmp_path / "missing.parquet")), "no such file")
    user_error(run(home, "apdb", "associate", "--visit", "7", "--detector", "0", "--visit-time", "60000",
                   "--sources", str(first), "--radius", "0"), "--radius")

