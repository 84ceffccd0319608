"""The column-by-column packet encoder against fastavro: byte for byte the packets of
``wire.encode`` over ``alert_records`` (APDB visits with history, a cutout, an ssSource, nulls),
and a column that does not fit its Avro type is refused."""


import pyarrow as pa
import pytest

import qserv
from qserv.instance import init_instance
from qserv.payloads.alerts import wire
from qserv.payloads.alerts.build import visit_packets, visit_tables
from qserv.payloads.alerts.columnar import alert_packets, encode_rows, varint
from qserv.payloads.alerts.packets import alert_records, searchable_rows
from qserv.payloads.apdb import Apdb
from tests.payloads import alerts_data, apdb_data


@pytest.fixture(scope="module")
def apdb(tmp_path_factory):
    home = tmp_path_factory.mktemp("alerts-columnar") / "home"
    init_instance(home, workers=2)
    engine = qserv.open(home)
    apdb = Apdb.create(engine, "apdb")
    alerts_data.populate(apdb, apdb_data, positions=40)
    yield apdb
    engine.close()


def test_varint_matches_fastavro():
    import io

    import fastavro

    values = [0, 1, -1, 63, -64, 64, 300, -300, 2**31, -2**31, 2**62, 2**63 - 1, -2**63]
    block, lengths = varint(values)
    for value, row, length in zip(values, block, lengths):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, "long", value)
        assert row[:length].tobytes() == buffer.getvalue()


def _ss_source(schema, source_id):
    """One ssSource row: every required field filled by type, the optional ones null."""
    record = next(f["type"][1] for f in schema.definition["fields"] if f["name"] == "ssSource")
    values = {"double": 12.5, "float": 0.25, "long": 77, "int": 3, "string": "ss", "boolean": True}
    row = {f["name"]: values[f["type"]] for f in record["fields"] if isinstance(f["type"], str)}
    return pa.table({name: [value] for name, value in dict(row, diaSourceId=source_id).items()})


@pytest.mark.parametrize("visit", [3, 4])
def test_packets_equal_fastavro_encoding(apdb, visit):
    schema = wire.latest_schema()
    sources, objects, history, forced = visit_tables(apdb, visit)
    first = sources.column("diaSourceId")[0].as_py()
    ss = _ss_source(schema, first)
    cutouts = {first: (b"\x00diff", None, b"tmpl" * 100)}
    records = alert_records(schema.definition, sources, objects, history, forced, ss, cutouts, "reason", None)
    packets = alert_packets(schema, sources, objects, history, forced, ss, cutouts, "reason", None)
    assert len(packets) == len(records) == sources.num_rows
    assert any(r["prvDiaSources"] for r in records) and any(r["prvDiaForcedSources"] for r in records)
    for record, packet in zip(records, packets):
        assert packet == wire.encode(record, schema)
        assert wire.decode(packet, schema)["diaSourceId"] == record["diaSourceId"]
    columns, encoded, _ = visit_packets(apdb, visit, ss_sources=ss)  # a new read: rows in another order
    order = sorted(range(len(encoded)), key=lambda k: columns["diaSourceId"][k].as_py())
    built = sorted(alert_records(schema.definition, sources, objects, history, forced, ss),
                   key=lambda record: record["diaSourceId"])
    assert [encoded[k] for k in order] == [wire.encode(record, schema) for record in built]
    expected = searchable_rows(built)
    assert {name: [values[k].as_py() for k in order] for name, values in columns.items()} == expected
    assert expected["hasSsSource"].count(True) == 1


def test_a_column_that_does_not_fit_is_refused():
    record = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"},
                                                        {"name": "b", "type": ["null", "double"]}]}
    assert encode_rows(pa.table({"a": [1, -2], "b": [None, 2.5]}), record) == [b"\x02\x00", b"\x03\x02" + b"\x00\x00\x00\x00\x00\x00\x04@"]
    with pytest.raises(wire.PacketError):
        encode_rows(pa.table({"a": [2**40], "b": [1.0]}), record)
    with pytest.raises(wire.PacketError):
        encode_rows(pa.table({"a": [None], "b": [1.0]}), record)
    with pytest.raises(wire.PacketError):
        encode_rows(pa.table({"a": ["x"], "b": [1.0]}), record)

