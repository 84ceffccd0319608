"""Fixtures for the TAP service tests: one catalog instance (sky.Object director with ids,
positions, a float32 magnitude, a char(6) name and a timestamp; sky.Source children; sky.Numbers, replicated, 0..2999), the Flask
app over it (in-process test client), and a real ``qserv serve`` process on a free port."""

import os
from pathlib import Path
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pytest
import requests

import qserv
from qserv.api.app import create_app
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

OBJECTS = 5000
OBJECT_COLUMNS = [
    Column("objectId", "long", False, description="unique object id", ucd="meta.id;meta.main"),
    Column("ra", "double", False, unit="deg", ucd="pos.eq.ra;meta.main", description="right ascension"),
    Column("decl", "double", False, unit="deg", ucd="pos.eq.dec;meta.main", description="declination"),
    Column("mag", "float", unit="mag", description="magnitude"),
    Column("name", "char", length=6, description="a short name"),
    Column("seen", "timestamp", description="time of first detection"),
]
SOURCE_COLUMNS = [Column("sourceId", "long", False, description="source id"),
                  Column("objectId", "long", False, description="its object"),
                  Column("flux", "double", unit="nJy", description="flux")]


def objects_table():
    rng = np.random.default_rng(1)
    mag = rng.normal(20, 1, OBJECTS).astype(np.float32)
    return pa.table({
        "objectId": np.arange(OBJECTS, dtype=np.int64),
        "ra": rng.uniform(0, 360, OBJECTS),
        "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, OBJECTS))),
        "mag": pa.array(mag, mask=np.arange(OBJECTS) % 97 == 0),
        "name": [f"n{i}" for i in range(OBJECTS)],
        "seen": pa.array(np.datetime64("2026-01-01T00:00:00") + np.arange(OBJECTS).astype("timedelta64[s]"),
                         pa.timestamp("us")),
    })


@pytest.fixture(scope="session")
def objects():
    """The rows of sky.Object."""
    return objects_table()


def build_catalog(home, worker_dsns=()):
    """The test catalog in a new instance at ``home`` (3 DuckDB workers, or PostgreSQL workers in
    the databases ``worker_dsns``), with users alice, bob and root (admin) whose tokens are written
    to ``home/tokens``."""
    if worker_dsns:
        init_instance(home, backend="postgres", worker_dsns=list(worker_dsns))
    else:
        init_instance(home, workers=3)
    with qserv.open(home) as engine:
        engine.create_database("sky", chunk_order=4, subchunk_order=7, overlap_arcsec=60.0)
        engine.create_table("sky.Object", TableSpec("director", OBJECT_COLUMNS, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        engine.create_table("sky.Source", TableSpec("child", SOURCE_COLUMNS, director="sky.Object",
                                                    director_key="objectId"))
        engine.ingest("sky.Object", [objects_table()])
        rng = np.random.default_rng(2)
        engine.ingest("sky.Source", [pa.table({
            "sourceId": np.arange(3 * OBJECTS, dtype=np.int64),
            "objectId": np.repeat(np.arange(OBJECTS, dtype=np.int64), 3),
            "flux": rng.uniform(0, 100, 3 * OBJECTS)})])
        engine.create_table("sky.Numbers", TableSpec("replicated", [Column("n", "long", description="a number")]))
        engine.ingest("sky.Numbers", [pa.table({"n": np.arange(3000, dtype=np.int64)})])
        engine.publish("sky")
        engine.users.add("alice")
        engine.users.add("bob")
        engine.users.add("root", is_admin=True)
        tokens = {name: engine.users.create_token(name) for name in ("alice", "bob", "root")}
    (home / "tokens").write_text("\n".join(f"{k}={v}" for k, v in tokens.items()))
    return home


@pytest.fixture(scope="session")
def catalog_home(tmp_path_factory):
    """The catalog used in-process (the Flask test client)."""
    return build_catalog(tmp_path_factory.mktemp("tap") / "home")


@pytest.fixture(scope="session")
def tokens(catalog_home):
    return dict(line.split("=", 1) for line in (catalog_home / "tokens").read_text().splitlines())


@pytest.fixture(scope="module")
def app(catalog_home):
    created = create_app({"home": catalog_home, "cleanup_interval_s": 3600})
    yield created
    created.extensions["qserv"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(home, *options):
    """(process, /tap URL) of ``qserv serve`` over ``home`` on a free port, once it answers; its
    output goes to ``home/../serve.log``."""
    port = _free_port()
    qserv_command = Path(sys.executable).with_name("qserv")
    log_path = home.parent / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(qserv_command), "--home", str(home), "serve", "--port", str(port), *options],
                                   stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "QSERV_DEBUG": ""})
    url = f"http://127.0.0.1:{port}/tap"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/availability", timeout=2).ok:
                return process, url
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"qserv serve did not start: {log_path.read_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def tap_url(tmp_path_factory):
    """The /tap URL of a ``qserv serve`` process over its own copy of the catalog (a served
    instance's worker files are held by the server process), stopped after the session."""
    process, url = start_server(build_catalog(tmp_path_factory.mktemp("served") / "home"))
    yield url
    process.terminate()
    process.wait(timeout=30)
