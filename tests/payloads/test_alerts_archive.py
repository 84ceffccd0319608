"""Alert packets from the APDB and the alert archive on the core: every packet round-trips through
fastavro against lsst-alert-packet's schema and matches the APDB's rows (history by brute force);
searches agree with a brute force over all packets; stores are idempotent and all or nothing."""

from pathlib import Path
import zlib

from astropy import units
from astropy.coordinates import SkyCoord
import fastavro
import numpy as np
import pytest

import qserv
from qserv.errors import NotFoundError, UserError
from qserv.instance import init_instance
from qserv.payloads.alerts import AlertArchive, wire
from qserv.payloads.alerts.build import visit_alerts
from qserv.payloads.alerts.files import export_visit, import_files, read_container
from qserv.payloads.alerts.search import Search
from qserv.payloads.apdb import Apdb
from tests.payloads import alerts_data, apdb_data





@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An instance with an APDB of 4 associated visits and an archive of their alerts."""
    home = tmp_path_factory.mktemp("alerts") / "home"
    init_instance(home, workers=2)
    engine = qserv.open(home)
    apdb = Apdb.create(engine, "apdb")
    visits = alerts_data.populate(apdb, apdb_data)
    archive = AlertArchive.create(engine, "alerts")
    records = {}
    for visit in visits:
        built, schema = visit_alerts(apdb, visit)
        archive.store_records(built, schema)
        records.update((r["diaSourceId"], r) for r in built)
    yield engine, apdb, archive, records
    engine.close()


def _wire(record):
    return wire.encode(record, wire.latest_schema())


def test_every_packet_round_trips_and_validates(world):
    engine, _, archive, records = world
    schema = wire.latest_schema()
    assert schema.schema_id == 1101
    for alert_id, record in records.items():
        wire.validate(record, schema)
        packet = archive.get(alert_id)
        assert packet[0] == 0 and int.from_bytes(packet[1:5], "big") == schema.schema_id
        decoded = wire.decode(packet, schema)
        assert wire.encode(decoded, schema) == packet == _wire(record)
        assert decoded["diaSourceId"] == alert_id == decoded["diaSource"]["diaSourceId"]
        assert decoded["diaObject"]["diaObjectId"] == decoded["diaSource"]["diaObjectId"]


def test_history_is_the_objects_earlier_sources(world):
    """prvDiaSources / prvDiaForcedSources against all rows of the APDB (12-month window)."""
    engine, _, _, records = world
    sources = engine.query('SELECT "diaSourceId", "diaObjectId", "midpointMjdTai" FROM apdb."DiaSource"')
    forced = engine.query('SELECT "diaForcedSourceId", "diaObjectId", "midpointMjdTai" FROM apdb."DiaForcedSource"')
    s_object, s_time = sources["diaObjectId"].to_numpy(), sources["midpointMjdTai"].to_numpy()
    f_object, f_time = forced["diaObjectId"].to_numpy(), forced["midpointMjdTai"].to_numpy()
    with_history = outside_window = 0
    for record in records.values():
        source = record["diaSource"]
        visit_start = alerts_data.visit_time(source["visit"]).tai.mjd
        window = visit_start - 360
        earlier = (s_object == source["diaObjectId"]) & (s_time < source["midpointMjdTai"]) & (s_time > window)
        expected = sources["diaSourceId"].to_numpy()[earlier]
        assert sorted(r["diaSourceId"] for r in record["prvDiaSources"]) == sorted(expected.tolist())
        earlier = (f_object == source["diaObjectId"]) & (f_time < source["midpointMjdTai"]) & (f_time > window)
        expected_forced = forced["diaForcedSourceId"].to_numpy()[earlier]
        assert sorted(r["diaForcedSourceId"] for r in record["prvDiaForcedSources"]) == sorted(expected_forced.tolist())
        with_history += bool(record["prvDiaSources"])
        outside_window += bool(((s_object == source["diaObjectId"]) & (s_time <= window)).any())
    assert with_history > len(records) // 3
    assert outside_window > 0  # visit 1 is older than the window of the later visits: left out


def _brute(records, cone=None, since=None, until=None, object_id=None, cuts=None):
    ids = np.array(list(records))
    source = [records[i]["diaSource"] for i in ids]
    keep = np.ones(len(ids), bool)
    if cone is not None:
        points = SkyCoord([s["ra"] for s in source] * units.deg, [s["dec"] for s in source] * units.deg)
        keep &= points.separation(SkyCoord(cone[0] * units.deg, cone[1] * units.deg)).deg <= cone[2]
    times = np.array([s["midpointMjdTai"] for s in source])
    if since is not None:
        keep &= times >= since
    if until is not None:
        keep &= times < until
    if object_id is not None:
        keep &= np.array([s["diaObjectId"] for s in source]) == object_id
    for name, (low, high) in (cuts or {}).items():
        values = np.array([np.nan if s[name] is None else s[name] for s in source], dtype=float)
        keep &= (values >= (low if low is not None else -np.inf)) & (values <= (high if high is not None else np.inf))
    return sorted(ids[keep].tolist())


def _found(archive, search):
    return sorted(archive.decode(p)["diaSourceId"] for p in archive.search(search))


def test_searches_against_brute_force(world):
    _, _, archive, records = world
    rng = np.random.default_rng(3)
    nonempty = 0
    for _ in range(12):
        cone = (30.0 + rng.uniform(-1, 1), -10.0 + rng.uniform(-1, 1), rng.uniform(0.1, 1.0))
        since = alerts_data.FIRST_MJD_TAI + rng.uniform(-5, 20)
        until = since + rng.uniform(5, 30)
        cuts = {"snr": (rng.uniform(5, 50), None), "reliability": (None, rng.uniform(0.3, 1.0))}
        expected = _brute(records, cone, since, until, cuts=cuts)
        assert _found(archive, Search(cone=cone, since_mjd_tai=since, until_mjd_tai=until, cuts=cuts)) == expected
        assert _found(archive, Search(cone=cone)) == _brute(records, cone)
        nonempty += bool(expected)
    assert nonempty >= 3
    some_object = next(iter(records.values()))["diaSource"]["diaObjectId"]
    assert sorted(archive.decode(p)["diaSourceId"] for p in archive.object_alerts(some_object)) == \
        _brute(records, object_id=some_object)
    corners = ((29.5, -10.5), (30.5, -10.5), (30.5, -9.5), (29.5, -9.5))
    inside = [i for i, r in records.items()
              if 29.5 < r["diaSource"]["ra"] < 30.5 and -10.5 < r["diaSource"]["dec"] < -9.5]
    assert _found(archive, Search(polygon=corners)) == sorted(inside)


def test_adql_over_the_alert_table(world):
    engine, _, _, records = world
    rows = engine.query("SELECT a.diaSourceId, a.packet FROM alerts.Alert AS a "
                        "WHERE CONTAINS(POINT('ICRS', a.ra, a.dec), CIRCLE('ICRS', 30.2, -9.8, 0.7)) = 1 "
                        "AND a.snr > 20")
    expected = _brute(records, (30.2, -9.8, 0.7), cuts={"snr": (20, None)})
    assert sorted(rows["diaSourceId"].to_pylist()) == expected and expected
    for alert_id, stored in zip(rows["diaSourceId"].to_pylist(), rows["packet"].to_pylist()):
        assert stored[:2] == b"\x1f\x8b"  # gzip
        assert zlib.decompress(stored, wbits=31) == _wire(records[alert_id])


def test_store_again_is_skipped(world):
    engine, apdb, archive, records = world
    before = engine.query('SELECT COUNT(*) AS n FROM alerts."Alert"')["n"][0].as_py()
    built, schema = visit_alerts(apdb, 2)
    result = archive.store_records(built, schema)
    assert (result.stored, result.skipped, result.transaction_id) == (0, len(built), None)
    assert engine.query('SELECT COUNT(*) AS n FROM alerts."Alert"')["n"][0].as_py() == before == len(records)


def test_bad_packets_store_nothing(world):
    engine, _, archive, records = world
    before = engine.query('SELECT COUNT(*) AS n FROM alerts."Alert"')["n"][0].as_py()
    good = dict(next(iter(records.values())), diaSourceId=999_999_001)
    good_packet = _wire(good)
    with pytest.raises(wire.PacketError, match="does not decode|bytes after"):
        archive.store_packets([good_packet, good_packet[:5] + b"\x07garbage"])
    with pytest.raises(wire.PacketError, match="unknown schema id 4242"):
        archive.store_packets([good_packet, b"\x00" + (4242).to_bytes(4, "big") + good_packet[5:]])
    with pytest.raises(wire.PacketError, match="magic"):
        archive.store_packets([b"\x01" + good_packet[1:]])
    with pytest.raises(wire.PacketError, match="does not fit"):
        archive.store_records([dict(good, diaSource=None)], wire.latest_schema())
    assert engine.query('SELECT COUNT(*) AS n FROM alerts."Alert"')["n"][0].as_py() == before
    with pytest.raises(NotFoundError):
        archive.get(999_999_001)
    with pytest.raises(NotFoundError):
        archive.schema(4242)
    with pytest.raises(UserError, match="cut on"):
        archive.search(Search(cuts={"packet": (0, 1)}))


def test_export_and_import_round_trip(world, tmp_path):
    engine, _, archive, records = world
    path = tmp_path / "visit3.avro"
    with open(path, "wb") as output:
        count = export_visit(archive, 3, output)
    visit3 = sorted(i for i, r in records.items() if r["diaSource"]["visit"] == 3)
    assert count == len(visit3)
    with open(path, "rb") as stream:
        schema, read = read_container(stream)
    assert schema.schema_id == 1101 and sorted(r["diaSourceId"] for r in read) == visit3
    copy = AlertArchive.create(engine, "alerts_copy")
    assert import_files(copy, [path]).stored == len(visit3)
    assert import_files(copy, [path]).skipped == len(visit3)
    for alert_id in visit3:
        assert copy.get(alert_id) == archive.get(alert_id)


def test_import_of_lsst_alert_packet_sample(world):
    from lsst.alert.packet.schema import get_schema_path

    engine, _, _, _ = world
    sample = Path(get_schema_path(11, 1)) / "sample_data" / "fakeAlert.avro"
    with open(sample, "rb") as stream:
        expected = list(fastavro.reader(stream))
    archive = AlertArchive.create(engine, "alerts_sample")
    assert import_files(archive, [sample]).stored == len(expected)
    for record in expected:
        packet = archive.get(record["diaSourceId"])
        assert archive.decode(packet)["diaSourceId"] == record["diaSourceId"]
        assert packet == wire.encode(record, wire.latest_schema())
    assert archive.schema(1101).schema_id == 1101


def test_republication_replaces_by_id(world):
    """Packets of a visit regenerated (here with cutouts) replace the archived ones in one
    transaction; the other alerts stay."""
    engine, apdb, _, _ = world
    archive = AlertArchive.create(engine, "alerts_again")
    first, schema = visit_alerts(apdb, 1)
    second, _ = visit_alerts(apdb, 2)
    archive.store_records(first + second, schema)
    cutouts = {r["diaSourceId"]: (b"diff" + bytes(8), b"sci", None) for r in first}
    again, _ = visit_alerts(apdb, 1, cutouts=cutouts)
    result = archive.store_records(again, schema, replace=True)
    assert (result.stored, result.replaced) == (len(first), len(first))
    count = engine.query('SELECT COUNT(*) AS n FROM alerts_again."Alert"')["n"][0].as_py()
    assert count == len(first) + len(second)
    for record in again:
        decoded = archive.decode(archive.get(record["diaSourceId"]))
        assert (decoded["cutoutDifference"], decoded["cutoutScience"], decoded["cutoutTemplate"]) == \
            cutouts[record["diaSourceId"]]
    for record in second:
        assert archive.get(record["diaSourceId"]) == _wire(record)


def test_archive_on_postgresql_workers(tmp_path, new_instance, world):
    """The same packets archived on PostgreSQL workers read back byte for byte; a cone agrees."""
    _, _, archive, records = world
    new_instance(tmp_path / "home", "postgres", 1)
    with qserv.open(tmp_path / "home") as engine:
        on_postgres = AlertArchive.create(engine, "alerts")
        assert on_postgres.store_records(list(records.values()), wire.latest_schema()).stored == len(records)
        for alert_id in list(records)[::7]:
            assert on_postgres.get(alert_id) == archive.get(alert_id)
        cone = Search(cone=(30.0, -10.0, 0.6), since_mjd_tai=alerts_data.FIRST_MJD_TAI)
        expected = _brute(records, cone.cone, since=alerts_data.FIRST_MJD_TAI)
        assert _found(on_postgres, cone) == expected and expected
