"""The DBA REST API (/admin/v1): admin token required, a whole ingest through it (uploaded and
server-side files) compared with the rows sent, jobs with progress (drain, replicate, verify,
commit), indexes, and user errors as JSON 4xx."""

import io
import time

import duckdb
import healpy
import matplotlib.image
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import qserv
from qserv.api.app import create_app
from qserv.chunk_maps import map_layers
from qserv.instance import init_instance
from qserv.meta.users import add_user, create_token

ROWS = 3000
COLUMNS = [{"name": "objectId", "datatype": "long", "nullable": False},
           {"name": "ra", "datatype": "double", "nullable": False, "unit": "deg"},
           {"name": "decl", "datatype": "double", "nullable": False, "unit": "deg"},
           {"name": "mag", "datatype": "double"}]


def rows(start, count, seed):
    rng = np.random.default_rng(seed)
    return pa.table({"objectId": np.arange(start, start + count, dtype=np.int64),
                     "ra": rng.uniform(0, 360, count), "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, count))),
                     "mag": rng.normal(20, 1, count)})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("admin") / "home"
    init_instance(home, workers=3)
    with qserv.open(home) as engine, engine.store.session() as session:
        add_user(session, "alice")
        add_user(session, "root", is_admin=True)
        tokens = {name: create_token(session, name) for name in ("alice", "root")}
    app = create_app({"home": home, "cleanup_interval_s": 3600})
    yield app, tokens, home
    app.extensions["qserv"].close()


@pytest.fixture(scope="module")
def api(served):
    app, tokens, _ = served
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['root']}"}

    def call(method, path, expect=200, **options):
        response = client.open(f"/admin/v1{path}", method=method, headers=headers, **options)
        assert response.status_code == expect, (path, response.status_code, response.get_data(as_text=True))
        return response

    return call


def wait_job(api, response):
    assert response.status_code == 202
    location = response.headers["Location"]
    assert location.endswith(f"/admin/v1/jobs/{response.get_json()['id']}")
    deadline = time.monotonic() + 120
    while True:
        job = api("GET", location.split("/admin/v1", 1)[1]).get_json()
        if job["state"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_admin_token_required(served):
    app, tokens, _ = served
    client = app.test_client()
    missing = client.get("/admin/v1/workers")
    assert missing.status_code == 401 and "token" in missing.get_json()["error"]
    user = client.get("/admin/v1/workers", headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert user.status_code == 403 and "administrator" in user.get_json()["error"]
    bogus = client.get("/admin/v1/workers", headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401
    assert client.get("/admin/v1/openapi.json").status_code == 200  # the document itself is public


def test_openapi_describes_every_route(served):
    app = served[0]
    document = app.test_client().get("/admin/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    registered = {(rule.rule[len("/admin/v1"):], method.lower()) for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/admin/v1/") for method in rule.methods - {"HEAD", "OPTIONS"}}
    import re

    described = {(re.sub(r"\{(\w+)\}", lambda m: f"<{m.group(1)}>", path), method)
                 for path, operations in document["paths"].items() for method in operations}
    normalised = {(re.sub(r"<\w+:(\w+)>", r"<\1>", rule), method) for rule, method in registered}
    assert normalised == described
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path, operations in document["paths"].items():
        assert path.startswith("/")
        declared = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in operations.items():
            assert method in ("get", "post", "put", "delete", "patch")
            assert operation["responses"] and all(code.isdigit() and "description" in answer
                                                  for code, answer in operation["responses"].items())
            path_parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert path_parameters == declared and all(p["required"] for p in operation.get("parameters", [])
                                                       if p["in"] == "path")
            for mime, content in operation.get("requestBody", {}).get("content", {}).items():
                schema = content["schema"]
                assert schema["type"] == ("string" if mime == "application/octet-stream" else "object")
                assert set(schema.get("required", [])) <= set(schema.get("properties", {}))


def test_ingest_through_the_api(api, served, tmp_path):
    api("POST", "/databases", 201, json={"name": "sky", "chunk_order": 1, "subchunk_order": 5, "overlap_arcsec": 30})
    api("POST", "/tables", 201, json={"table": "sky.Object", "kind": "director", "columns": COLUMNS,
                                      "id_column": "objectId", "ra_column": "ra", "dec_column": "decl"})
    uploaded, on_server, aborted = rows(0, ROWS, 1), rows(ROWS, ROWS, 2), rows(2 * ROWS, 100, 3)
    transaction = api("POST", "/transactions", 201, json={"database": "sky"}).get_json()["id"]
    buffer = io.BytesIO()
    pq.write_table(uploaded, buffer)
    sent = api("POST", f"/transactions/{transaction}/contributions", 201,
               data={"table": "Object", "file": (io.BytesIO(buffer.getvalue()), "part1.parquet")}).get_json()
    assert sent["rows"] == ROWS
    pacsv.write_csv(on_server, tmp_path / "part2.csv")
    sent = api("POST", f"/transactions/{transaction}/contributions", 201,
               json={"table": "Object", "path": str(tmp_path / "part2.csv")}).get_json()
    assert sent["rows"] == ROWS
    status = api("GET", f"/transactions/{transaction}").get_json()
    assert status["state"] == "open" and [c["state"] for c in status["contributions"]] == ["loaded", "loaded"]
    job = wait_job(api, api("POST", f"/transactions/{transaction}/commit", 202))
    assert job["state"] == "done" and job["done"] == job["total"] == 1, job
    assert job["result"]["state"] == "committed"
    other = api("POST", "/transactions", 201, json={"database": "sky"}).get_json()["id"]
    pacsv.write_csv(aborted, tmp_path / "part3.csv")
    api("POST", f"/transactions/{other}/contributions", 201, json={"table": "Object", "path": str(tmp_path / "part3.csv")})
    assert api("POST", f"/transactions/{other}/abort").get_json()["state"] == "aborted"
    api("POST", "/databases/sky/publish")
    expected = duckdb.sql("SELECT count(*), sum(mag), min(objectId), max(objectId) FROM "
                          "(SELECT * FROM uploaded UNION ALL SELECT * FROM on_server)").fetchall()[0]
    found = served[0].extensions["qserv"].engine.query(
        "SELECT COUNT(*) AS n, SUM(mag) AS s, MIN(objectId) AS lo, MAX(objectId) AS hi FROM sky.Object")
    n, s, lo, hi = (found.column(i)[0].as_py() for i in range(4))
    assert (n, lo, hi) == expected[:1] + expected[2:] and s == pytest.approx(expected[1], rel=1e-12)
    stats = api("GET", "/tables/sky.Object/stats").get_json()
    assert stats["rows"] == 2 * ROWS and sum(w["rows"] for w in stats["workers"].values()) == 2 * ROWS
    chunks = api("GET", "/tables/sky.Object/chunks").get_json()
    assert sum(c["rows"] for c in chunks) == 2 * ROWS
    png = api("GET", "/tables/sky.Object/map.png")
    assert png.content_type == "image/png" and png.data.startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(io.BytesIO(png.data))
    assert image.shape[0] > image.shape[1] > 300  # three panels, stacked


def test_map_layers_match_the_rows(served):
    """The map's rows per pixel are the rows whose position falls in that nested pixel."""
    engine = served[0].extensions["qserv"].engine
    sent = pa.concat_tables([rows(0, ROWS, 1), rows(ROWS, ROWS, 2)])
    layers = map_layers(engine.chunks("sky.Object"), 1)
    pixels = healpy.ang2pix(2, sent["ra"].to_numpy(), sent["decl"].to_numpy(), nest=True, lonlat=True)
    expected = np.bincount(pixels, minlength=48)
    seen = layers.rows != healpy.UNSEEN
    assert np.array_equal(layers.rows[seen], expected[seen]) and np.all(expected[~seen] == 0)
    assert set(layers.replicas[seen]) == {1.0}
    assert len(layers.groups) == 3 and set(layers.holders[seen]) == {0.0, 1.0, 2.0}


def test_workers_and_jobs(api, served):
    engine = served[0].extensions["qserv"].engine
    total = "SELECT COUNT(*) AS n, SUM(mag) AS s FROM sky.Object"
    before = engine.query(total).to_pylist()[0]
    added = api("POST", "/workers", 201, json={"name": "w9", "backend": "duckdb"}).get_json()
    assert added["state"] == "active" and added["chunks"] == 0
    job = wait_job(api, api("POST", "/databases/sky/replicate", 202, json={"level": 2}))
    assert job["state"] == "done" and job["done"] == job["total"] == job["result"]["steps"] > 0, job
    job = wait_job(api, api("POST", "/workers/worker1/drain", 202))
    assert job["state"] == "done" and job["done"] == job["total"] > 0, job
    listed = {w["name"]: w for w in api("GET", "/workers").get_json()}
    assert listed["worker1"]["state"] == "drained" and listed["worker1"]["chunks"] == 0
    job = wait_job(api, api("POST", "/databases/sky/verify", 202, json={"repair": False}))
    assert job["state"] == "done" and job["result"]["problems"] == [] and job["done"] == job["result"]["chunks"]
    after = engine.query(total).to_pylist()[0]
    assert after["n"] == before["n"] and after["s"] == pytest.approx(before["s"], rel=1e-12)
    api("DELETE", "/workers/worker1")
    assert "worker1" not in {w["name"] for w in api("GET", "/workers").get_json()}
    assert [j["kind"] for j in api("GET", "/jobs").get_json()][:3] == ["verify", "drain", "replicate"]


def test_indexes(api, served):
    engine = served[0].extensions["qserv"].engine
    query = "SELECT COUNT(*) AS n, SUM(ra) AS s FROM sky.Object WHERE mag BETWEEN 19.5 AND 20.1"
    before = engine.query(query).to_pylist()
    made = api("POST", "/tables/sky.Object/indexes", 201, json={"column": "MAG"}).get_json()
    workers = {w["name"] for w in api("GET", "/workers").get_json()}
    assert set(made["workers"]) == workers
    assert {c: set(w) for c, w in api("GET", "/tables/sky.Object/indexes").get_json()["indexes"].items()} == \
        {"mag": workers}
    assert engine.query(query).to_pylist() == before
    api("DELETE", "/tables/sky.Object/indexes/mag")
    assert api("GET", "/tables/sky.Object/indexes").get_json()["indexes"] == {}
    api("DELETE", "/tables/sky.Object/indexes/mag", 404)


@pytest.mark.parametrize("method, path, payload, status, words", [
    ("POST", "/databases", {"chunk_order": 3}, 400, "missing field 'name'"),
    ("POST", "/databases", {"name": "x", "chunk_order": "3"}, 400, "must be a JSON integer"),
    ("POST", "/databases/nosuch/replicate", {"level": 2}, 404, "nosuch"),
    ("POST", "/databases/sky/replicate", {"level": 0}, 400, "at least 1"),
    ("POST", "/workers/nosuch/drain", None, 404, "nosuch"),
    ("POST", "/workers", {"name": "w", "backend": "oracle"}, 400, "duckdb"),
    ("POST", "/tables", {"table": "sky.T", "kind": "replicated", "columns": [{"nom": "x"}]}, 400, "columns[0]"),
    ("POST", "/tables", {"table": "sky.T", "kind": "replicated", "columns": [], "colour": 1}, 400, "colour"),
    ("GET", "/tables/sky.Nope/stats", None, 404, "Nope"),
    ("POST", "/transactions/999999/commit", None, 404, "999999"),
    ("POST", "/transactions", "not json", 400, "JSON object"),
    ("DELETE", "/tables/sky.Object/indexes/nocolumn", None, 404, "nocolumn"),
    ("GET", "/jobs/424242", None, 404, "424242"),
    ("POST", "/transactions/1/contributions?table=Object", b"raw", 400, "missing field 'filename'"),
])
def test_user_errors(api, method, path, payload, status, words):
    if isinstance(payload, bytes):
        options = {"data": payload, "content_type": "application/octet-stream"}
    else:
        options = {"data": payload, "content_type": "application/json"} if isinstance(payload, str) else {"json": payload}
    error = api(method, path, status, **options).get_json()["error"]
    assert words in error
