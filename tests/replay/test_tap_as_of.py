"""The TAP parameter AS_OF (sync and async): the rows of a snapshot, documented on the root page;
qserv replay through TAP (runner.TapTarget) sends pinned queries with it."""

import csv
import io
import time

import qserv
from qserv.api.app import create_app
from qserv.meta import snapshots
from qserv.replay import sources
from qserv.replay.runner import TapTarget, replay


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


class _FlaskSession:
    """What TapTarget needs of a requests.Session, answered by the Flask test client."""

    def __init__(self, client):
        self.client = client

    def post(self, url, data, timeout):
        response = self.client.post("/" + url.split("://", 1)[1].split("/", 1)[1], data=data)
        response.content, response.text = response.data, response.data.decode(errors="replace")
        return response


def test_replay_through_tap(sky_home, sky):
    home = sky_home()
    with qserv.open(home) as engine:
        with engine.store.session() as session:
            snapshots.tag(session, "DR1")
        for text, _, _ in sky.queries():
            engine.query(text)
        engine.query(sky.queries()[0][0], as_of="DR1")
        entries = sources.from_log(engine)
        engine.ingest(sky.TABLE, [sky.rows(2000, 500, 6)])
    app = create_app({"home": home, "cleanup_interval_s": 3600})
    try:
        target = TapTarget("http://testserver/")
        target.session = _FlaskSession(app.test_client())
        verdicts = replay(entries, target, slower_factor=1e9)
        kinds = {v.entry.text + (" @DR1" if v.entry.as_of else ""): v.kind for v in verdicts}
        assert kinds[sky.queries()[0][0] + " @DR1"] == "same"  # pinned: sent as AS_OF
        assert "different" in kinds.values()  # the 500 new rows change the aggregates at least
        aggregate = [v for v in verdicts if v.entry.text.startswith("SELECT band")][0]
        assert aggregate.kind == "different"
    finally:
        app.extensions["qserv"].close()
