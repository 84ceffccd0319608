"""`qserv alerts create|publish|import|export|get|search|schema` as a user runs them (new
processes), against the packets built in-process and a brute force over them."""

import io
import json

from astropy.time import Time
import fastavro
import numpy as np
import pytest

import qserv
from qserv.instance import init_instance
from qserv.payloads.alerts import wire
from qserv.payloads.alerts.build import visit_alerts
from qserv.payloads.apdb import Apdb

from tests.cli_run import ok, run, user_error
from tests.payloads import alerts_data, apdb_data


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """(home with an APDB of 3 visits and an archive 'night' of visits 1 and 2, records by id)."""
    home = tmp_path_factory.mktemp("alerts-cli") / "home"
    init_instance(home, workers=1)
    with qserv.open(home) as engine:
        apdb = Apdb.create(engine, "apdb")
        alerts_data.populate(apdb, apdb_data, visits=3, positions=25)
        records = {r["diaSourceId"]: r for visit in (1, 2) for r in visit_alerts(apdb, visit)[0]}
    ok(run(home, "alerts", "create", "night"))
    for visit in (1, 2):
        assert "alerts archived" in ok(run(home, "alerts", "publish", "night", "--visit", str(visit)))
    return home, records


def test_get_and_schema(home):
    home, records = home
    alert_id, record = next(iter(records.items()))
    raw = run(home, "alerts", "get", "night", str(alert_id), text=False)
    assert raw.returncode == 0 and raw.stdout == wire.encode(record, wire.latest_schema())
    decoded = json.loads(ok(run(home, "alerts", "get", "night", str(alert_id), "--format", "json")))
    assert decoded["diaSource"]["diaSourceId"] == alert_id
    assert json.loads(ok(run(home, "alerts", "schema", "night", "1101"))) == wire.latest_schema().definition
    user_error(run(home, "alerts", "get", "night", "12345"), "no alert 12345")
    user_error(run(home, "alerts", "schema", "night", "4242"), "unknown alert schema id 4242")


def test_search_against_brute_force(home):
    home, records = home
    since = Time(60005.0, format="mjd", scale="tai").utc.isot
    lines = ok(run(home, "alerts", "search", "night", "--cone", "30,-10,0.9", "--since", since,
                   "--until", "60030")).splitlines()
    found = sorted(json.loads(line)["diaSourceId"] for line in lines)
    ra = np.radians([r["diaSource"]["ra"] for r in records.values()])
    dec = np.radians([r["diaSource"]["dec"] for r in records.values()])
    centre_dec = np.radians(-10)
    cos_sep = np.sin(dec) * np.sin(centre_dec) + np.cos(dec) * np.cos(centre_dec) * np.cos(ra - np.radians(30))
    times = np.array([r["diaSource"]["midpointMjdTai"] for r in records.values()])
    keep = (np.degrees(np.arccos(np.clip(cos_sep, -1, 1))) <= 0.9) & (times >= 60005.0 - 1e-6) & (times < 60030)
    assert found == sorted(np.array(list(records))[keep].tolist()) and found
    object_id = next(iter(records.values()))["diaSource"]["diaObjectId"]
    avro = run(home, "alerts", "search", "night", "--object", str(object_id), "--format", "avro", text=False)
    assert avro.returncode == 0
    assert sorted(r["diaSourceId"] for r in fastavro.reader(io.BytesIO(avro.stdout))) == \
        sorted(i for i, r in records.items() if r["diaSource"]["diaObjectId"] == object_id)
    user_error(run(home, "alerts", "search", "night", "--cone", "1,2"), "RA,DEC,RADIUS_DEG")
    user_error(run(home, "alerts", "search", "night", "--since", "last tuesday"), "ISO time")


def test_export_import_idempotent(home, tmp_path):
    home, records = home
    path = tmp_path / "visit2.avro"
    assert "written to" in ok(run(home, "alerts", "export", "night", "--visit", "2", str(path)))
    visit2 = sorted(i for i, r in records.items() if r["diaSource"]["visit"] == 2)
    with open(path, "rb") as stream:
        assert sorted(r["diaSourceId"] for r in fastavro.reader(stream)) == visit2
    ok(run(home, "alerts", "create", "copy"))
    assert ok(run(home, "alerts", "import", "copy", str(path))).startswith(f"{len(visit2)} alerts archived, 0 already")
    assert ok(run(home, "alerts", "import", "copy", str(path))).startswith(f"0 alerts archived, {len(visit2)} already")
    garbage = tmp_path / "garbage.avro"
    garbage.write_bytes(b"not avro at all")
    user_error(run(home, "alerts", "import", "copy", str(garbage)), "not an Avro container file")
    user_error(run(home, "alerts", "import", "copy", str(tmp_path / "missing.avro")), "cannot read")
    user_error(run(home, "alerts", "export", "night", "--visit", "3", str(tmp_path / "none.avro")),
               "no alerts of visit 3")
