"""The registry over HTTP: REST under /backbone/v1 (Flask test client: admin writes, reads, 400/401/
404), ivoa.ObsCore in TAP_SCHEMA with the ObsCore utypes and UCDs, /tap/capabilities declaring the
ObsCore data model, and pyvo against a running `qserv serve` (ADQL CONTAINS over ivoa.ObsCore
compared with numpy)."""

import numpy as np
import pytest
import pyvo

import qserv
from qserv.api.app import create_app
from qserv.instance import init_instance
from qserv.payloads.backbone.sky import separation_deg
from tests.api.conftest import start_server

N = 300


def datasets():
    rng = np.random.default_rng(8)
    ra, dec = rng.uniform(100, 110, N), rng.uniform(20, 30, N)
    return [{"dataset_type": "calexp", "instrument": "LSSTCam", "visit": i // 5, "detector": i % 5,
             "uri": f"https://data/{i}.fits", "size": 12345, "s_ra": ra[i], "s_dec": dec[i], "s_fov": 0.2,
             "t_min": 60100.0 + i, "t_max": 60100.0 + i + 30 / 86400, "band": "i"} for i in range(N)]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("backbone-api") / "home"
    init_instance(path, workers=2)
    with qserv.open(path) as engine:
        engine.users.add("root", is_admin=True)
        (path / "token").write_text(engine.users.create_token("root"))
    return path


@pytest.fixture(scope="module")
def client(home):
    app = create_app({"home": home, "cleanup_interval_s": None})
    yield app.test_client()
    app.extensions["qserv"].close()


def test_rest_registry(client, home):
    admin = {"Authorization": f"Bearer {(home / 'token').read_text()}"}
    engine = client.application.extensions["qserv"].engine
    from qserv.payloads.backbone import Backbone

    Backbone.create(engine, "bb")
    base = "/backbone/v1/bb"
    assert client.post(f"{base}/dataset-types", json={"name": "calexp", "dimensions": ["visit"]}).status_code == 401
    made = client.post(f"{base}/dataset-types", headers=admin, json={
        "name": "calexp", "dimensions": ["instrument", "visit", "detector"], "storage_class": "ExposureF"})
    assert made.status_code == 201
    assert client.get(f"{base}/dataset-types").json["calexp"]["dimensions"] == ["instrument", "visit", "detector"]
    rows = datasets()
    answer = client.post(f"{base}/datasets", headers=admin, json={"run": "run1", "datasets": rows})
    assert answer.status_code == 201 and answer.json["registered"] == N
    ids = answer.json["ids"]
    again = client.post(f"{base}/datasets", headers=admin, json={"run": "run1", "datasets": rows[:10]})
    assert again.json["registered"] == 0 and again.json["existing"] == 10
    assert client.post(f"{base}/collections", headers=admin, json={
        "name": "chain", "type": "chained", "children": ["run1"]}).status_code == 201
    found = client.get(f"{base}/find", query_string={"dataset_type": "calexp", "collections": "chain",
                                                     "where": "visit = 3 AND detector < 2"}).json["datasets"]
    assert [(f["visit"], f["detector"], f["id"]) for f in found] == [(3, 0, ids[15]), (3, 1, ids[16])]
    ra = np.array([r["s_ra"] for r in rows])
    dec = np.array([r["s_dec"] for r in rows])
    near = client.get(f"{base}/datasets", query_string={"circle": "105,25,1.5"}).json["datasets"]
    assert sorted(f["id"] for f in near) == sorted(np.array(ids)[separation_deg(ra, dec, 105, 25) <= 1.6])
    assert client.get(f"{base}/datasets", query_string={"circle": "1,2"}).status_code == 400
    assert client.get(f"{base}/find", query_string={"dataset_type": "nope", "collections": "chain"}).status_code == 404
    bad = client.post(f"{base}/datasets", headers=admin, json={"run": "run2", "datasets": [{**rows[0], "visit": None}]})
    assert bad.status_code == 400 and "misses dimension" in bad.json["error"]
    assert client.post(f"{base}/collections", headers=admin, json={
        "name": "run1", "type": "chained", "children": ["chain"]}).status_code == 400
    assert client.get(f"{base}/datasets/{ids[0]}/lineage").json == {"edges": []}
    assert client.get("/backbone/v1/none/collections").status_code == 404

    capabilities = client.get("/tap/capabilities").data.decode()
    assert '<dataModel ivo-id="ivo://ivoa.net/std/ObsCore#core-1.1">ObsCore-1.1</dataModel>' in capabilities
    columns = {r["column_name"]: r for r in engine.tap_schema()["columns"].to_pylist()
               if r["table_name"] == "ivoa.ObsCore"}
    assert columns["s_region"]["utype"] == "obscore:Char.SpatialAxis.Coverage.Support.Area"
    assert columns["s_ra"]["ucd"] == "pos.eq.ra" and columns["s_ra"]["unit"] == "deg"
    assert columns["access_estsize"]["unit"] == "kbyte" and columns["obs_id"]["std"] == 1
    mandatory = {"dataproduct_type", "calib_level", "obs_collection", "obs_id", "obs_publisher_did", "access_url",
                 "access_format", "access_estsize", "target_name", "s_ra", "s_dec", "s_fov", "s_region",
                 "s_resolution", "s_xel1", "s_xel2", "t_min", "t_max", "t_exptime", "t_resolution", "t_xel",
                 "em_min", "em_max", "em_res_power", "em_xel", "o_ucd", "pol_states", "pol_xel", "facility_name",
                 "instrument_name"}
    assert mandatory <= set(columns)


def test_pyvo_obscore_queries(tmp_path):
    from qserv.payloads.backbone import Backbone

    home = tmp_path / "home"
    init_instance(home, workers=2)
    with qserv.open(home) as engine:
        backbone = Backbone.create(engine, "bb")
        backbone.add_dataset_type("calexp", ["instrument", "visit", "detector"], "ExposureF")
        backbone.register("run1", datasets())
    process, url = start_server(home)
    try:
        service = pyvo.dal.TAPService(url)
        models = [m.ivo_id for m in service.get_tap_capability().datamodels]
        assert "ivo://ivoa.net/std/ObsCore#core-1.1" in models
        result = service.search("SELECT obs_id, access_url, s_ra, s_dec, em_min, t_exptime, calib_level "
                                "FROM ivoa.ObsCore WHERE CONTAINS(POINT('ICRS', s_ra, s_dec), "
                                "CIRCLE('ICRS', 104, 24, 2)) = 1 AND dataproduct_type = 'image'")
        rows = datasets()
        ra = np.array([r["s_ra"] for r in rows])
        dec = np.array([r["s_dec"] for r in rows])
        expected = {rows[i]["uri"] for i in np.flatnonzero(separation_deg(ra, dec, 104, 24) <= 2)}
        assert set(result["access_url"]) == expected and len(result) == len(expected)
        assert set(result["calib_level"]) == {2} and np.allclose(result["t_exptime"], 30)
        assert np.allclose(result["em_min"], 691e-9)
        described = service.tables["ivoa.ObsCore"]
        assert "s_region" in [c.name for c in described.columns]
    finally:
        process.terminate()
        process.wait(timeout=30)
