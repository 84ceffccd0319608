"""``qserv serve --processes N``: several processes on one port over PostgreSQL workers answer
like the unsharded catalog, share async jobs (seen, aborted from any process), and stop together;
DuckDB workers are refused."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import requests

import qserv
from qserv.errors import InstanceBusyError
from qserv.meta.admin import TableSpec
from tests.api.conftest import OBJECT_COLUMNS, build_catalog, objects_table, start_server
from tests.api.test_tap_async import SLOW, UWS


def _children(pid):
    """Pids of the processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _stop(process):
    """SIGTERM the server; True when it and every serving process it started are gone."""
    children = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(Path(f"/proc/{pid}").exists() for pid in children)


@pytest.fixture(scope="module")
def pg_home(tmp_path_factory, new_postgres_database):
    return build_catalog(tmp_path_factory.mktemp("processes") / "home", [new_postgres_database() for _ in range(2)])


@pytest.fixture(scope="module")
def served(pg_home):
    process, url = start_server(pg_home, "--processes", "2", "--threads", "4")
    yield process, url
    if process.poll() is None:
        _stop(process)


def _cone_ids(url, ra, dec, radius):
    query = (f"SELECT objectId FROM sky.Object WHERE "
             f"CONTAINS(POINT('ICRS', ra, decl), CIRCLE('ICRS', {ra}, {dec}, {radius})) = 1")
    # a new connection each time: the kernel hands it to either process
    response = requests.post(f"{url}/sync", data={"LANG": "ADQL", "FORMAT": "csv", "QUERY": query}, timeout=60)
    assert response.status_code == 200, response.text
    return response.headers["Server"], {int(line) for line in response.text.split()[1:]}


def _brute_force_cone(ra, dec, radius):
    rows = objects_table()
    ra1, dec1 = np.radians(rows["ra"].to_numpy()), np.radians(rows["decl"].to_numpy())
    ra0, dec0 = np.radians(ra), np.radians(dec)
    cos_distance = np.sin(dec1) * np.sin(dec0) + np.cos(dec1) * np.cos(dec0) * np.cos(ra1 - ra0)
    inside = np.degrees(np.arccos(np.clip(cos_distance, -1, 1))) <= radius
    return set(rows["objectId"].to_numpy()[inside].tolist())


def test_concurrent_sync_queries_match_the_unsharded_catalog(served):
    _, url = served
    rng = np.random.default_rng(7)
    cones = [(float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(rng.uniform(-0.9, 0.9)))), 5.0)
             for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda cone: _cone_ids(url, *cone), cones))
    for cone, (_, ids) in zip(cones, answers):
        assert ids == _brute_force_cone(*cone), cone
    assert {server for server, _ in answers} == {"qserv (process 0)", "qserv (process 1)"}


def _get_job(url, job_id):
    response = requests.get(f"{url}/async/{job_id}", timeout=30)
    assert response.status_code == 200, response.text
    return response.headers["Server"], ET.fromstring(response.content).find(f"{UWS}phase").text


def test_an_async_job_is_seen_and_aborted_from_either_process(served, pg_home):
    _, url = served
    created = requests.post(f"{url}/async", data={"LANG": "ADQL", "QUERY": SLOW, "PHASE": "RUN"},
                            allow_redirects=False, timeout=30)
    job_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    seen, deadline = {}, time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        server, phase = _get_job(url, job_id)
        seen[server] = phase
        assert phase in ("QUEUED", "EXECUTING")
    assert sorted(seen) == ["qserv (process 0)", "qserv (process 1)"]
    while _get_job(url, job_id)[1] != "EXECUTING" and time.monotonic() < deadline:
        time.sleep(0.1)
    aborted_at = time.monotonic()
    for _ in range(2):  # whichever process takes the ABORT, the one running the query cancels it
        requests.post(f"{url}/async/{job_id}/phase", data={"PHASE": "ABORT"}, timeout=30)
    assert {_get_job(url, job_id)[1] for _ in range(6)} == {"ABORTED"}
    token = dict(line.split("=", 1) for line in (pg_home / "tokens").read_text().splitlines())["root"]
    status = None
    while time.monotonic() - aborted_at < 30 and status != "cancelled":
        history = requests.get(f"{url}/history", params={"limit": 20}, timeout=30,
                               headers={"Authorization": f"Bearer {token}"}).json()
        status = next((q["status"] for q in history["queries"] if q["query"] == SLOW), None)
        time.sleep(0.2)
    assert status == "cancelled"


def test_sigterm_stops_every_serving_process(served):
    process, url = served
    assert len(_children(process.pid)) == 2
    assert requests.get(f"{url}/availability", timeout=10).ok
    assert _stop(process) and process.returncode == 0


def test_duckdb_workers_are_refused(catalog_home):
    command = [str(Path(sys.executable).with_name("qserv")), "--home", str(catalog_home), "serve", "--port", "0",
               "--processes", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--processes above 1 needs PostgreSQL workers" in result.stderr and "worker1" in result.stderr


def test_read_only_engines_share_the_instance_and_refuse_to_change_it(pg_home):
    """What each serving process opens: several read-only engines at once answer queries, and a
    catalog change is refused with the reason."""
    query = "SELECT COUNT(*) AS n FROM sky.Source AS s JOIN sky.Object AS o ON s.objectId = o.objectId"
    with qserv.open(pg_home, read_only=True) as first, qserv.open(pg_home, read_only=True) as second:
        counts = {engine.query(query)["n"][0].as_py() for engine in (first, second)}
        assert counts == {3 * objects_table().num_rows}
        with pytest.raises(InstanceBusyError, match="read-only"):
            first.create_table("sky.Extra", TableSpec("director", OBJECT_COLUMNS, id_column="objectId",
                                                      ra_column="ra", dec_column="decl"))
