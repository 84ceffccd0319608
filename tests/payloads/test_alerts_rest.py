"""The alert archive's REST API (/alerts/v1) through the Flask test client: raw and decoded
packets, schemas, an object's alerts, searches (Avro container and JSON) against a brute force;
400 on bad input, 404 on unknown ids."""

import io
import json
from pathlib import Path

from astropy import units
from astropy.coordinates import SkyCoord
import fastavro
import pytest

import qserv
from qserv.api.app import create_app
from qserv.instance import init_instance
from qserv.payloads.alerts import AlertArchive, wire
from qserv.payloads.alerts.build import visit_alerts
from qserv.payloads.apdb import Apdb
from tests.api.conftest import start_server
from tests.payloads import alerts_data, apdb_data


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(test client, alert records by id) over an archive in database 'night' (the setting
    alerts_database names it)."""
    home = tmp_path_factory.mktemp("alerts-rest") / "home"
    init_instance(home, workers=1)
    with qserv.open(home) as engine:
        engine.set_setting("alerts_database", "night")  # applies from the next open
    engine = qserv.open(home)
    apdb = Apdb.create(engine, "apdb")
    visits = alerts_data.populate(apdb, apdb_data, visits=3, positions=30)
    archive = AlertArchive.create(engine, "night")
    records = {}
    for visit in visits:
        built, schema = visit_alerts(apdb, visit)
        archive.store_records(built, schema)
        records.update((r["diaSourceId"], r) for r in built)
    app = create_app({"engine": engine, "cleanup_interval_s": None, "resume_jobs": []})
    yield app.test_client(), records
    app.extensions["qserv"].close()
    engine.close()


def test_alert_raw_and_json(served):
    client, records = served
    alert_id, record = next(iter(records.items()))
    raw = client.get(f"/alerts/v1/alerts/{alert_id}")
    assert raw.status_code == 200, raw.data
    assert raw.data == wire.encode(record, wire.latest_schema())
    decoded = client.get(f"/alerts/v1/alerts/{alert_id}?format=json")
    assert decoded.status_code == 200
    assert decoded.get_json()["diaSource"]["diaSourceId"] == alert_id
    assert len(decoded.get_json()["prvDiaSources"]) == len(record["prvDiaSources"])


def test_schema(served):
    client, _ = served
    answer = client.get("/alerts/v1/schemas/1101")
    assert answer.status_code == 200
    assert answer.get_json() == wire.latest_schema().definition
    assert client.get("/alerts/v1/schemas/4242").status_code == 404
    assert client.get("/alerts/v1/schemas/eleven").status_code == 400


def _container_ids(data):
    return sorted(r["diaSourceId"] for r in fastavro.reader(io.BytesIO(data)))


def test_object_and_search(served):
    client, records = served
    object_id = max(records.values(), key=lambda r: len(r["prvDiaSources"]))["diaSource"]["diaObjectId"]
    expected = sorted(i for i, r in records.items() if r["diaSource"]["diaObjectId"] == object_id)
    assert len(expected) >= 2
    answer = client.get(f"/alerts/v1/objects/{object_id}")
    assert answer.status_code == 200 and _container_ids(answer.data) == expected
    as_json = client.get(f"/alerts/v1/objects/{object_id}?format=json").get_json()
    assert sorted(a["diaSourceId"] for a in as_json["alerts"]) == expected
    centre = SkyCoord(30.1 * units.deg, -10.2 * units.deg)
    since, until = 60005.0, 60025.0
    inside = sorted(i for i, r in records.items()
                    if centre.separation(SkyCoord(r["diaSource"]["ra"] * units.deg,
                                                  r["diaSource"]["dec"] * units.deg)).deg <= 0.8
                    and since <= r["diaSource"]["midpointMjdTai"] < until and r["diaSource"]["snr"] >= 30)
    answer = client.get("/alerts/v1/search?cone=30.1,-10.2,0.8&since=60005&until=60025&cut=snr:30:")
    assert answer.status_code == 200 and _container_ids(answer.data) == inside and inside
    answer = client.get("/alerts/v1/search?cone=30.1,-10.2,0.8&since=60005&until=60025&cut=snr:30:&format=json")
    assert sorted(a["diaSourceId"] for a in json.loads(answer.data)["alerts"]) == inside


def test_bad_token_is_refused(served):
    client, records = served
    answer = client.get(f"/alerts/v1/alerts/{next(iter(records))}", headers={"Authorization": "Bearer nonsense"})
    assert answer.status_code == 401 and "token" in answer.get_json()["error"]


@pytest.mark.parametrize("url, status", [
    ("/alerts/v1/alerts/1", 404), ("/alerts/v1/alerts/x1", 400), ("/alerts/v1/objects/5", 404),
    ("/alerts/v1/search?cone=1,2", 400), ("/alerts/v1/search?since=yesterday", 400),
    ("/alerts/v1/search?cut=packet:1:2", 400), ("/alerts/v1/search?radius=3", 400),
    ("/alerts/v1/search?band=q", 400), ("/alerts/v1/alerts/10001?format=xml", 400),
])
def test_bad_requests(served, url, status):
    client, _ = served
    answer = client.get(url)
    assert answer.status_code == status, answer.data
    assert "error" in answer.get_json()


def test_against_a_running_server(tmp_path):
    """``qserv serve`` over an archive holding lsst-alert-packet's sample alerts."""
    from lsst.alert.packet.schema import get_schema_path
    import requests

    from qserv.payloads.alerts.files import import_files

    sample = Path(get_schema_path(11, 1)) / "sample_data" / "fakeAlert.avro"
    with open(sample, "rb") as stream:
        expected = list(fastavro.reader(stream))
    home = tmp_path / "home"
    init_instance(home, workers=1)
    with qserv.open(home) as engine:
        import_files(AlertArchive.create(engine, "alerts"), [sample])
    process, tap_url = start_server(home)
    try:
        base = tap_url.removesuffix("/tap") + "/alerts/v1"
        for record in expected:
            answer = requests.get(f"{base}/alerts/{record['diaSourceId']}", timeout=30)
            assert answer.status_code == 200 and answer.content == wire.encode(record, wire.latest_schema())
        assert requests.get(f"{base}/alerts/1", timeout=30).status_code == 404
        assert requests.get(f"{base}/search?cone=1,2", timeout=30).status_code == 400
    finally:
        process.terminate()
        process.wait(timeout=30)
