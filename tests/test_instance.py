"""The instance home: made absolute once at open, everything inside it named relative to it (a
copied home is a separate instance), worker DSNs checked at init, and async TAP results served
from a home given as a relative path (the README's own setup)."""

import io
import json
import os
import shutil
import time
import uuid
import xml.etree.ElementTree as ET

import numpy as np
import pyarrow as pa
import pytest
from astropy.io.votable import parse_single_table

import qserv
from qserv.api.app import create_app
from qserv.errors import UserError
from qserv.instance import init_instance, read_instance, resolve_home
from qserv.meta.admin import TableSpec
from qserv.meta.models import TapJob
from qserv.schema.columns import Column

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"


def _numbers_instance(home, values):
    init_instance(home, workers=2)
    with qserv.open(home) as engine:
        engine.create_database("sky", chunk_order=3, subchunk_order=5, overlap_arcsec=10.0)
        engine.create_table("sky.Numbers", TableSpec("replicated", [Column("n", "long")]))
        engine.ingest("sky.Numbers", [pa.table({"n": np.asarray(values, dtype=np.int64)})])
        engine.publish("sky")


def _total(home):
    with qserv.open(home) as engine:
        return engine.query("SELECT SUM(n) AS s FROM sky.Numbers").column("s").to_pylist()[0]


def test_a_relative_home_is_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_home("qserv-home") == tmp_path / "qserv-home"
    monkeypatch.setenv("QSERV_HOME", "./elsewhere")
    assert resolve_home() == tmp_path / "elsewhere"
    _numbers_instance("qserv-home", [1, 2, 3])
    engine = qserv.open("qserv-home")
    try:
        monkeypatch.chdir("/")  # a later change of directory changes nothing
        assert engine.home.is_absolute()
        assert engine.query("SELECT COUNT(*) AS c FROM sky.Numbers").column("c").to_pylist() == [3]
    finally:
        engine.close()


def test_a_copied_home_is_a_separate_instance(tmp_path):
    _numbers_instance(tmp_path / "original", [1, 2, 3])
    described = json.loads((tmp_path / "original" / "instance.json").read_text())
    assert str(tmp_path) not in json.dumps(described)  # nothing absolute inside the home
    shutil.copytree(tmp_path / "original", tmp_path / "copy")
    with qserv.open(tmp_path / "copy") as copy:
        copy.ingest("sky.Numbers", [pa.table({"n": np.array([100], dtype=np.int64)})])
    assert _total(tmp_path / "copy") == 106
    assert _total(tmp_path / "original") == 6


def test_instances_of_older_releases_with_absolute_paths_still_open(tmp_path):
    home = tmp_path / "old"
    _numbers_instance(home, [5])
    url = read_instance(home)["meta_url"]
    (home / "instance.json").write_text(json.dumps({"meta_url": url}))
    assert _total(home) == 5


def test_init_refuses_worker_dsns_it_cannot_use(tmp_path):
    missing = f"qserv_missing_{uuid.uuid4().hex[:8]}"
    good = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with pytest.raises(UserError, match=f"worker2 .*{missing}") as caught:
        init_instance(tmp_path / "pg", backend="postgres",
                      worker_dsns=[good, f"host=127.0.0.1 port=5432 user=postgres dbname={missing}"])
    assert "worker1" not in str(caught.value)
    assert not (tmp_path / "pg").exists()  # nothing half-made


def _run_async(client, query):
    created = client.post("/tap/async", data={"LANG": "ADQL", "QUERY": query, "PHASE": "RUN"})
    assert created.status_code == 303, created.data
    path = created.headers["Location"].removeprefix("http://localhost")
    for _ in range(300):
        job = ET.fromstring(client.get(path).data)
        if job.find(f"{UWS}phase").text in ("COMPLETED", "ERROR"):
            break
        time.sleep(0.05)
    assert job.find(f"{UWS}phase").text == "COMPLETED"
    return path


def test_async_results_of_a_relative_home_are_served(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _numbers_instance("qserv-home", [4, 5, 6])
    app = create_app({"home": "qserv-home", "cleanup_interval_s": 3600})
    try:
        client = app.test_client()
        path = _run_async(client, "SELECT SUM(n) AS s FROM sky.Numbers")
        fetched = client.get(path + "/results/result")
        assert fetched.status_code == 200, fetched.data
        assert list(parse_single_table(io.BytesIO(fetched.data)).array["s"]) == [15]

        # A job of an older release recorded its result relative to the server's directory.
        job_id = path.rsplit("/", 1)[1]
        engine = app.extensions["qserv"].engine
        with engine.store.session() as session:
            job = session.get(TapJob, job_id)
            job.result_path = os.path.join("qserv-home", "tap", "jobs", job_id, "result.vot")
        monkeypatch.chdir("/")
        again = client.get(path + "/results/result")
        assert again.status_code == 200 and again.data == fetched.data
    finally:
        app.extensions["qserv"].close()
