"""/tap/async (UWS 1.1) through Flask's test client: creation, RUN, WAIT, results, errors,
ABORT of a running query, DELETE, parameters, times, ownership, restart and expiry."""

import io
from pathlib import Path
import time
import xml.etree.ElementTree as ET
from datetime import timedelta

from astropy.io.votable import parse_single_table

from qserv.api.app import create_app
from qserv.api.tap.service import destroy_expired_jobs
from qserv.meta.models import TapJob, utc_now

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
SLOW = ("SELECT COUNT(*) FROM sky.Numbers a, sky.Numbers b, sky.Numbers c "
        "WHERE MOD(a.n * 7 + b.n * 3 + c.n, 1000003) = 17")


def _path(url):
    assert url.startswith("http://localhost/"), url  # absolute, as UWS clients need
    return url[len("http://localhost"):]


def _create(client, headers=None, **params):
    response = client.post("/tap/async", data={"LANG": "ADQL", **params}, headers=headers or {})
    assert response.status_code == 303, response.data
    return _path(response.headers["Location"])


def _job(client, path, headers=None, wait=None):
    response = client.get(path + (f"?WAIT={wait}" if wait is not None else ""), headers=headers or {})
    assert response.status_code == 200, response.data
    return ET.fromstring(response.data)


def _phase(job):
    return job.find(f"{UWS}phase").text


def test_create_run_wait_and_fetch(client):
    path = _create(client, QUERY="SELECT TOP 5 objectId FROM sky.Object ORDER BY objectId", RUNID="r1")
    assert _phase(_job(client, path)) == "PENDING"
    assert client.get(path + "/phase").data == b"PENDING"
    run = client.post(path + "/phase", data={"PHASE": "RUN"})
    assert run.status_code == 303 and _path(run.headers["Location"]) == path
    job = _job(client, path, wait=30)
    assert _phase(job) == "COMPLETED" and job.get("version") == "1.1"
    assert job.find(f"{UWS}runId").text == "r1"
    result = job.find(f"{UWS}results/{UWS}result")
    assert result.get("id") == "result"
    fetched = client.get(_path(result.get("{http://www.w3.org/1999/xlink}href")))
    assert list(parse_single_table(io.BytesIO(fetched.data)).array["objectId"]) == [0, 1, 2, 3, 4]
    listed = ET.fromstring(client.get("/tap/async").data)
    assert listed.findall(f"{UWS}jobref") == []  # anonymous jobs are reached by id only, never listed


def test_phase_run_on_creation_format_and_maxrec(client):
    path = _create(client, QUERY="SELECT objectId FROM sky.Object", PHASE="RUN", FORMAT="csv", MAXREC="4")
    assert _phase(_job(client, path, wait=30)) == "COMPLETED"
    lines = client.get(path + "/results/result").data.decode().splitlines()
    assert len(lines) == 5 and lines[0] == '"objectId"'


def test_a_failing_job_has_an_error_document(client):
    path = _create(client, QUERY="SELECT nope FROM sky.Object", PHASE="RUN")
    job = _job(client, path, wait=30)
    assert _phase(job) == "ERROR"
    assert "unknown column nope" in job.find(f"{UWS}errorSummary/{UWS}message").text
    error = client.get(path + "/error")
    assert error.status_code == 200 and b'value="ERROR"' in error.data and b"unknown column nope" in error.data
    assert client.get(path + "/results/result").status_code == 404


def test_abort_cancels_the_running_query(client, app):
    path = _create(client, QUERY=SLOW, PHASE="RUN")
    deadline = time.monotonic() + 20
    while _phase(_job(client, path)) != "EXECUTING" and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    client.post(path + "/phase", data={"PHASE": "ABORT"})
    assert _phase(_job(client, path)) == "ABORTED"
    engine = app.extensions["qserv"].engine
    # the query stops on the workers: the query log records it cancelled, well before it could finish
    while time.monotonic() - started < 20:
        statuses = [q.status for q in engine.recent_queries(limit=20) if q.text == SLOW]
        if statuses and statuses[0] == "cancelled":
            break
        time.sleep(0.1)
    assert statuses[0] == "cancelled" and time.monotonic() - started < 20


def test_execution_duration_is_the_time_limit(client):
    path = _create(client, QUERY=SLOW, EXECUTIONDURATION="1")
    assert client.get(path + "/executionduration").data == b"1"
    client.post(path + "/phase", data={"PHASE": "RUN"})
    job = _job(client, path, wait=60)
    assert _phase(job) == "ERROR" and "time limit of 1 s" in job.find(f"{UWS}errorSummary/{UWS}message").text


def test_parameters_times_and_owner(client):
    path = _create(client, QUERY="SELECT 1 AS one")
    client.post(path + "/parameters", data={"MAXREC": "3"})
    parameters = ET.fromstring(client.get(path + "/parameters").data)
    assert {p.get("id"): p.text for p in parameters} == {"lang": "ADQL", "query": "SELECT 1 AS one", "maxrec": "3"}
    client.post(path + "/executionduration", data={"EXECUTIONDURATION": "999999999"})
    assert client.get(path + "/executionduration").data == b"3600"  # clamped to query_timeout_s
    client.post(path + "/destruction", data={"DESTRUCTION": "2026-12-01T00:00:00Z"})
    assert client.get(path + "/destruction").data.startswith(b"2026-")
    assert client.get(path + "/owner").data == b"anonymous"
    assert client.post(path + "/phase", data={"PHASE": "SUSPEND"}).status_code == 400


def test_delete_by_method_and_by_action(client):
    first = _create(client, QUERY="SELECT 1 AS one")
    deleted = client.delete(first)
    assert deleted.status_code == 303 and _path(deleted.headers["Location"]) == "/tap/async"
    assert client.get(first).status_code == 404
    second = _create(client, QUERY="SELECT 1 AS one")
    assert client.post(second, data={"ACTION": "DELETE"}).status_code == 303
    assert client.get(second).status_code == 404


def test_each_user_sees_only_their_jobs(client, tokens):
    alice, bob, root = ({"Authorization": f"Bearer {tokens[name]}"} for name in ("alice", "bob", "root"))
    path = _create(client, headers=alice, QUERY="SELECT 1 AS one")
    assert client.get(path, headers=bob).status_code == 404
    assert client.get(path).status_code == 404  # anonymous
    assert _job(client, path, headers=root).find(f"{UWS}ownerId").text == "alice"
    ids = [ref.get("id") for ref in ET.fromstring(client.get("/tap/async", headers=bob).data)]
    assert path.rsplit("/", 1)[1] not in ids
    ids = [ref.get("id") for ref in ET.fromstring(client.get("/tap/async", headers=alice).data)]
    assert path.rsplit("/", 1)[1] in ids


def test_jobs_survive_a_restart_and_expire(catalog_home, client, app):
    done = _create(client, QUERY="SELECT TOP 2 objectId FROM sky.Object", PHASE="RUN")
    assert _phase(_job(client, done, wait=30)) == "COMPLETED"
    queued = _create(client, QUERY="SELECT 2 AS two")
    engine = app.extensions["qserv"].engine
    with engine.store.session() as session:  # as if the server stopped while the job was running
        job = session.get(TapJob, queued.rsplit("/", 1)[1])
        job.phase = "EXECUTING"
    restarted = create_app({"home": catalog_home, "cleanup_interval_s": 3600})
    try:
        other = restarted.test_client()
        assert _phase(_job(other, done)) == "COMPLETED"
        assert other.get(done + "/results/result").status_code == 200
        assert _phase(_job(other, queued, wait=30)) == "COMPLETED"  # taken up again
        with engine.store.session() as session:
            session.get(TapJob, done.rsplit("/", 1)[1]).destruction_time = utc_now() - timedelta(seconds=1)
            result_path = session.get(TapJob, done.rsplit("/", 1)[1]).result_path
        destroy_expired_jobs(restarted.extensions["qserv"])
        assert other.get(done).status_code == 404
        assert not Path(result_path).exists()
    finally:
        restarted.extensions["qserv"].close()
