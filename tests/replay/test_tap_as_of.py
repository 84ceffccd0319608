"""The TAP parameter AS_OF (sync and async): the rows of a snapshot, documented on the root page."""

import csv
import io
import time

import qserv
from qserv.api.app import create_app
from qserv.meta import snapshots


def _count(response):
    assert response.status_code == 200, response.data
    return int(list(csv.DictReader(io.StringIO(response.data.decode())))[0]["n"])


def test_tap_sync_and_async_as_of(sky_home, sky):
    home = sky_home()
    with qserv.open(home) as engine:
        with engine.store.session() as session:
            snapshots.tag(session, "DR1")
        engine.ingest(sky.TABLE, [sky.rows(2000, 120, 5)])
    app = create_app({"home": home, "cleanup_interval_s": 3600})
    try:
        client = app.test_client()
        assert "AS_OF" in client.get("/tap").data.decode()
        query = {"LANG": "ADQL", "FORMAT": "csv", "QUERY": f"SELECT COUNT(*) AS n FROM {sky.TABLE} WHERE mag < 40"}
        assert _count(client.post("/tap/sync", data={**query, "AS_OF": "DR1"})) == 2000
        assert _count(client.post("/tap/sync", data=query)) == 2120
        assert client.post("/tap/sync", data={**query, "AS_OF": "DR7"}).status_code in (400, 404)
        job = client.post("/tap/async", data={**query, "AS_OF": "DR1", "PHASE": "RUN"})
        location = job.headers["Location"]
        for _ in range(200):
            phase = client.get(f"{location}/phase").data.decode().strip()
            if phase in ("COMPLETED", "ERROR"):
                break
            time.sleep(0.05)
        assert phase == "COMPLETED"
        assert _count(client.get(f"{location}/results/result")) == 2000
    finally:
        app.extensions["qserv"].close()
