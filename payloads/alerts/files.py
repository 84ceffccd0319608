"""Avro container files of alert packets: export of a visit's packets (for brokers and replay)
and import of container files (ours, a broker's dump, lsst-alert-packet's sample data) into the
archive, idempotent by diaSourceId. The schema id of a file is read from its writer schema's
name (``lsst.v11_1.alert`` -> 1101)."""

import fastavro

from qserv.errors import NotFoundError, UserError

from qserv.payloads.alerts.search import Search
from qserv.payloads.alerts.wire import (AlertSchema, PacketError, decode, encode, full_name, header_schema_id,
                                        latest_schema, plain, schema_id_of_name)


def write_container(output, records, schema):
    """Write ``records`` of ``schema`` as an Avro container file to the binary stream ``output``."""
    fastavro.writer(output, schema.parsed, records, validator=True)


def write_packets(archive, packets, output, what):
    """Write wire-format ``packets`` of ``archive`` to ``output`` as one Avro container file
    (their schema; lsst-alert-packet's latest when there are none); returns how many."""
    schema_ids = {header_schema_id(packet) for packet in packets}
    if len(schema_ids) > 1:
        raise UserError(f"{what}: the alerts were written with {len(schema_ids)} schemas "
                        f"({', '.join(map(str, sorted(schema_ids)))}); an Avro container file holds one")
    schema = archive.schema(schema_ids.pop()) if schema_ids else latest_schema()
    write_container(output, [decode(packet, schema) for packet in packets], schema)
    return len(packets)


def export_visit(archive, visit, output):
    """Write the archived packets of ``visit`` to ``output``; returns how many."""
    packets = archive.search(Search(visit=int(visit)))
    if not packets:
        raise NotFoundError(f"no alerts of visit {int(visit)} in archive {archive.database}")
    return write_packets(archive, packets, output, f"visit {int(visit)}")


def read_container(stream, name="file"):
    """(AlertSchema, records) of an Avro container file of alert packets."""
    try:
        reader = fastavro.reader(stream)
        definition = plain(reader.writer_schema)
        records = list(reader)
    except (ValueError, EOFError, TypeError, IndexError, UnicodeDecodeError) as error:
        raise PacketError(f"{name}: not an Avro container file of alerts ({error})") from None
    if not isinstance(definition, dict) or "diaSourceId" not in {f.get("name") for f in definition.get("fields", [])}:
        raise PacketError(f"{name}: its records are not alerts (no diaSourceId field)")
    return AlertSchema(schema_id_of_name(full_name(definition)), definition), records


def import_files(archive, paths, replace=False):
    """Archive the alerts of the container files ``paths`` in one transaction (StoreResult)."""
    alerts, packets, schemas = [], [], {}
    for path in paths:
        try:
            with open(path, "rb") as stream:
                schema, records = read_container(stream, str(path))
        except OSError as error:
            raise UserError(f"cannot read {path}: {error.strerror}") from None
        schemas.setdefault(schema.schema_id, schema)
        alerts += records
        packets += [encode(record, schema) for record in records]
    return archive.store_decoded(alerts, packets, schemas, replace)
