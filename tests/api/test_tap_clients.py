"""Real clients against a running ``qserv serve``: pyvo (sync, overflow, async, uploads with a
crossmatch, errors) and STILTS taplint, whose Totals line must show no errors and no warnings
(its exit status is 0 whatever it finds). stilts is installed by .ci/run; without it this fails."""

import shutil
import subprocess

import numpy as np
import pytest
import pyvo
from astropy.table import Table


@pytest.fixture(scope="module")
def service(tap_url):
    return pyvo.dal.TAPService(tap_url)


def test_pyvo_search_and_overflow(service):
    result = service.search("SELECT TOP 10 objectId, ra, decl FROM sky.Object ORDER BY objectId")
    assert list(result["objectId"]) == list(range(10))
    capped = service.search("SELECT objectId FROM sky.Object", maxrec=25)
    assert len(capped) == 25 and capped.status[0] == "OVERFLOW"
    assert service.maxrec == 100_000 and service.hardlimit == 5_000_000


def test_pyvo_run_async_and_job_lifecycle(service):
    counted = service.run_async("SELECT COUNT(*) AS n FROM sky.Source")
    assert list(counted["n"]) == [15000]
    job = service.submit_job("SELECT TOP 3 objectId FROM sky.Object ORDER BY objectId DESC")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "COMPLETED"
    assert list(job.fetch_result()["objectId"]) == [4999, 4998, 4997]
    job.delete()


def test_pyvo_upload_crossmatch(service, objects):
    picked = [3, 400, 4100]
    positions = Table({"id": np.array(picked, dtype=np.int32),
                       "ra": np.array([objects.column("ra")[i].as_py() + 1e-5 for i in picked]),
                       "dec": np.array([objects.column("decl")[i].as_py() for i in picked])})
    result = service.search(
        "SELECT u.id, o.objectId, DISTANCE(POINT(u.ra, u.dec), POINT(o.ra, o.decl)) AS d "
        "FROM TAP_UPLOAD.mine AS u JOIN sky.Object AS o "
        "ON DISTANCE(POINT(u.ra, u.dec), POINT(o.ra, o.decl)) < 2.0 / 3600 ORDER BY u.id",
        uploads={"mine": positions})
    assert list(result["id"]) == picked and list(result["objectId"]) == picked
    assert all(d < 2.0 / 3600 for d in result["d"])


def test_pyvo_errors_are_raised_with_the_message(service):
    with pytest.raises(pyvo.dal.DALQueryError, match="unknown column nope"):
        service.search("SELECT nope FROM sky.Object")
    with pytest.raises(pyvo.dal.DALQueryError, match="unknown column nope"):
        service.run_async("SELECT nope FROM sky.Object")


def test_taplint_reports_no_errors_or_warnings(tap_url):
    stilts = shutil.which("stilts")
    assert stilts, "stilts is not installed (.ci/run installs the Debian package)"
    run = subprocess.run([stilts, "taplint", f"tapurl={tap_url}", "stages=-LOC -EXA -OBS", "report=EWF"],
                         capture_output=True, text=True, timeout=600)
    totals = [line for line in run.stdout.splitlines() if line.startswith("Totals:")]
    problems = [line for line in run.stdout.splitlines() if line[:2] in ("E-", "W-", "F-")]
    assert totals, run.stdout[-2000:] + run.stderr[-2000:]
    assert totals[-1].startswith("Totals: Errors: 0; Warnings: 0; Failures: 0"), "\n".join(problems[:40])
