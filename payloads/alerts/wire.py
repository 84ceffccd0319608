"""Alert schemas and the Confluent wire format (pure: no I/O apart from reading the schema files
of ``lsst-alert-packet``).

A wire-format packet is the magic byte 0, the schema id as a 4-byte big-endian integer and the
Avro body (schemaless) of one alert record. Schema ids are those of Rubin's registry:
major * 100 + minor (11.1 -> 1101)."""

from dataclasses import dataclass
from functools import cached_property, lru_cache
import io
import json
from pathlib import Path
import re
import struct

import fastavro

from qserv.errors import NotFoundError, UserError

MAGIC = 0
HEADER = struct.Struct(">bI")


class PacketError(UserError):
    """A packet that does not decode or does not validate against its schema."""


@dataclass(frozen=True)
class AlertSchema:
    schema_id: int
    definition: dict       # the Avro schema, named types written out (JSON-serialisable)

    @cached_property
    def parsed(self):
        return fastavro.parse_schema(json.loads(self.text))

    @cached_property
    def text(self):
        return json.dumps(self.definition, sort_keys=True)


def schema_id_of_name(name):
    """1101 for 'lsst.v11_1.alert' (the schema's full name carries its version)."""
    found = re.search(r"v(\d+)_(\d+)", name or "")
    if not found:
        raise PacketError(f"schema name {name!r} carries no version (expected e.g. lsst.v11_1.alert)")
    return int(found.group(1)) * 100 + int(found.group(2))


def full_name(definition):
    """The full name of a named Avro type ('lsst.v11_1.alert')."""
    name = definition["name"]
    return name if "." in name or not definition.get("namespace") else f"{definition['namespace']}.{name}"


def plain(definition):
    """An Avro schema without fastavro's bookkeeping keys (``__fastavro_parsed``...)."""
    if isinstance(definition, dict):
        return {k: plain(v) for k, v in definition.items() if not k.startswith("__")}
    if isinstance(definition, list):
        return [plain(v) for v in definition]
    return definition


@lru_cache(maxsize=None)
def packaged_schema(schema_id=None):
    """The schema ``schema_id`` shipped with lsst-alert-packet (None: the latest)."""
    from lsst.alert.packet import Schema
    from lsst.alert.packet.schema import get_schema_path

    if schema_id is None:
        schema = Schema.from_file()
    else:
        major, minor = divmod(int(schema_id), 100)
        path = Path(get_schema_path(major, minor)) / f"lsst.v{major}_{minor}.alert.avsc"
        if not path.is_file():
            raise NotFoundError(f"unknown alert schema id {schema_id}")
        schema = Schema.from_file(str(path))
    return AlertSchema(schema.get_schema_id(), plain(schema.definition))


def latest_schema():
    return packaged_schema(None)


def header_schema_id(packet):
    """The schema id in a wire-format packet's header."""
    if len(packet) < HEADER.size:
        raise PacketError(f"a wire-format packet has a {HEADER.size}-byte header, got {len(packet)} bytes")
    magic, schema_id = HEADER.unpack_from(packet)
    if magic != MAGIC:
        raise PacketError(f"not a Confluent wire-format packet (magic byte {magic}, expected {MAGIC})")
    return schema_id


def encode(record, schema):
    """The wire-format packet of ``record``; a record the schema does not accept raises PacketError."""
    buffer = io.BytesIO()
    buffer.write(HEADER.pack(MAGIC, schema.schema_id))
    try:
        fastavro.schemaless_writer(buffer, schema.parsed, record)
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, struct.error) as error:
        raise PacketError(f"alert {record.get('diaSourceId')!r} does not fit schema {schema.schema_id}: "
                          f"{error}") from None
    return buffer.getvalue()


def decode(packet, schema):
    """The record of a wire-format packet written with ``schema`` (its id is checked)."""
    schema_id = header_schema_id(packet)
    if schema_id != schema.schema_id:
        raise PacketError(f"packet has schema id {schema_id}, expected {schema.schema_id}")
    buffer = io.BytesIO(packet)
    buffer.seek(HEADER.size)
    try:
        record = fastavro.schemaless_reader(buffer, schema.parsed)
    except (EOFError, ValueError, TypeError, IndexError, UnicodeDecodeError, struct.error) as error:
        raise PacketError(f"packet does not decode with schema {schema_id}: {error!r}") from None
    if buffer.tell() != len(packet):
        raise PacketError(f"packet has {len(packet) - buffer.tell()} bytes after its record (schema {schema_id})")
    return record


def validate(record, schema):
    """Raise PacketError unless ``record`` validates against ``schema``."""
    from fastavro.validation import ValidationError

    try:
        fastavro.validation.validate(record, schema.parsed, raise_errors=True)
    except ValidationError as error:
        raise PacketError(f"alert {record.get('diaSourceId')!r} does not validate against schema "
                          f"{schema.schema_id}: {error}") from None


def record_json(record):
    """A decoded record as JSON text (bytes, e.g. cutouts, as base64 strings)."""
    import base64

    def default(value):
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        raise TypeError(f"not JSON-serialisable: {type(value).__name__}")

    return json.dumps(record, default=default, allow_nan=True)
