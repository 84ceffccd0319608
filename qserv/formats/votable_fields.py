"""VOTable FIELDs of a result schema, and the values of one Arrow column converted for its FIELD.

A result column that is a plain catalog column carries its declared
:class:`~qserv.schema.columns.Column` in the Arrow field metadata; its FIELD then has the type of
the one type map (:func:`qserv.schema.types.votable_field`), so it equals what TAP_SCHEMA declares,
plus the column's unit, UCD and description. Other columns are described from their Arrow type.

Value conventions (shared by BINARY2 and TABLEDATA):

- ``char`` is one byte per character: characters outside ASCII in a ``char`` column are written
  as ``?`` (declare the column ``unicode`` to keep them).
- ``unicodeChar`` is written as UTF-16 big-endian (UCS-2 for the Basic Multilingual Plane;
  a character beyond it is a surrogate pair, as VOTable 1.5 allows, and counts as two in
  ``arraysize``).
- Timestamps (any unit, any zone) are ISO 8601 strings in UTC without a zone suffix, with the
  fraction digits of the Arrow unit (``2024-01-02T03:04:05.123456`` for microseconds); dates are
  ``2024-01-02``.
"""

import re
from typing import NamedTuple
from xml.sax.saxutils import escape

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import UserError
from qserv.formats.names import unique_names
from qserv.schema.columns import column_of_field
from qserv.schema.types import votable_field


class FieldSpec(NamedTuple):
    """One VOTable FIELD (``None`` for an absent attribute)."""

    name: str
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    description: str | None = None
    utype: str | None = None


# Numeric VOTable datatypes -> the Arrow type the values are cast to (numpy dtype follows).
NUMBER_TYPES = {
    "boolean": pa.bool_(), "unsignedByte": pa.uint8(), "short": pa.int16(), "int": pa.int32(),
    "long": pa.int64(), "float": pa.float32(), "double": pa.float64(),
}
# Bytes per element of the array datatypes.
ELEMENT_BYTES = {"char": 1, "unicodeChar": 2, "unsignedByte": 1}

_FROM_ARROW = {
    pa.bool_(): "boolean", pa.int8(): "short", pa.int16(): "short", pa.uint8(): "short",
    pa.int32(): "int", pa.uint16(): "int", pa.int64(): "long", pa.uint32(): "long",
    pa.float16(): "float", pa.float32(): "float", pa.float64(): "double",
}
_XML_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_INVALID_XML_RE2 = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"


def xml_text(value):
    """``value`` as XML character data: escaped, characters XML cannot carry as ``?``."""
    return escape(_INVALID_XML.sub("?", str(value)))


def xml_attribute(value):
    """``value`` for a double-quoted XML attribute (white space kept as character references)."""
    return (xml_text(value).replace('"', "&quot;").replace("\n", "&#10;")
            .replace("\r", "&#13;").replace("\t", "&#9;"))


def _is_string(arrow):
    types = pa.types
    return types.is_string(arrow) or types.is_large_string(arrow) or types.is_string_view(arrow)


def _is_binary(arrow):
    types = pa.types
    return (types.is_binary(arrow) or types.is_large_binary(arrow) or types.is_binary_view(arrow)
            or types.is_fixed_size_binary(arrow))


def _is_time(arrow):
    return pa.types.is_timestamp(arrow) or pa.types.is_date(arrow)


def arrow_field_type(arrow, name):
    """(datatype, arraysize, xtype) of a column described only by its Arrow type."""
    if pa.types.is_dictionary(arrow):
        return arrow_field_type(arrow.value_type, name)
    if arrow in _FROM_ARROW:
        return _FROM_ARROW[arrow], None, None
    if pa.types.is_decimal(arrow):
        return "double", None, None
    if _is_string(arrow) or pa.types.is_null(arrow):
        return "char", "*", None
    if _is_binary(arrow):
        return "unsignedByte", "*", None
    if _is_time(arrow):
        return "char", "*", "timestamp"
    raise UserError(f"result column {name!r} has type {arrow}, which qserv cannot write to VOTable; "
                    f"CAST it to a number or a string in the query")


def votable_fields(schema):
    """The FieldSpec of every column of ``schema`` (names made unique)."""
    fields = []
    for field, name in zip(schema, unique_names(schema.names)):
        column = column_of_field(field)
        if column is None:
            fields.append(FieldSpec(name, *arrow_field_type(field.type, field.name)))
        else:
            declared = votable_field(column)
            fields.append(FieldSpec(name, declared.datatype, declared.arraysize, declared.xtype,
                                    column.unit, column.ucd, column.description, column.utype))
    return fields


def field_ids(fields):
    """Unique XML IDs of the FIELDs: the column name when it is a valid ID (readers such as
    astropy name table columns by ID), else ``col<index>``."""
    ids = [spec.name if _XML_ID.match(spec.name) else None for spec in fields]
    used = set(filter(None, ids))
    for index, given in enumerate(ids):
        if given is None:
            candidate = f"col{index}"
            while candidate in used:
                candidate += "_"
            ids[index] = candidate
            used.add(candidate)
    return ids


def field_xml(spec, field_id):
    """The FIELD element of ``spec`` with ID ``field_id``."""
    attributes = [("ID", field_id), ("name", spec.name), ("datatype", spec.datatype),
                  ("arraysize", spec.arraysize), ("xtype", spec.xtype), ("unit", spec.unit),
                  ("ucd", spec.ucd), ("utype", spec.utype)]
    text = "<FIELD " + " ".join(f'{key}="{xml_attribute(value)}"' for key, value in attributes
                                if value is not None)
    if spec.description is None:
        return text + "/>"
    return f"{text}><DESCRIPTION>{xml_text(spec.description)}</DESCRIPTION></FIELD>"


def max_elements(spec):
    """The largest number of elements a value may have (None: unbounded)."""
    digits = (spec.arraysize or "1").rstrip("*")
    return int(digits) if digits else None


def is_fixed(spec):
    """Whether every value has exactly ``max_elements`` elements (no length prefix in BINARY2)."""
    return spec.arraysize is None or not spec.arraysize.endswith("*")


def _plain(array):
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _cast(spec, array, target):
    try:
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise UserError(f"result column {spec.name!r}: cannot write {array.type} values as VOTable "
                        f"{spec.datatype}: {error}") from None


def numbers(spec, array):
    """(values, nulls) as numpy arrays for a numeric or boolean FIELD; null values are 0 (NaN
    for floats, False for booleans)."""
    array = _plain(array)
    target = NUMBER_TYPES[spec.datatype]
    if pa.types.is_decimal(array.type) or pa.types.is_float16(array.type):
        array = _cast(spec, array, pa.float64())
    array = _cast(spec, array, target)
    if array.null_count == 0:
        return array.to_numpy(zero_copy_only=False), np.zeros(len(array), dtype=bool)
    nulls = array.is_null().to_numpy(zero_copy_only=False)
    fill = float("nan") if pa.types.is_floating(target) else (False if target == pa.bool_() else 0)
    return array.fill_null(pa.scalar(fill, target)).to_numpy(zero_copy_only=False), nulls


def _iso_times(array):
    """Timestamps or dates as ISO 8601 strings (UTC, no zone, ``T`` between date and time)."""
    if pa.types.is_date(array.type):
        return array.cast(pa.large_string())
    text = array.view(pa.timestamp(array.type.unit)).cast(pa.large_string())  # the UTC values
    if len(text) == text.null_count:
        return text
    space = pc.find_substring(text, " ").fill_null(-1).to_numpy().astype(np.int64)
    valid = space >= 0
    validity, offsets, data = text.buffers()
    first = np.frombuffer(offsets, dtype=np.int64)[text.offset:text.offset + len(text)]
    data = np.frombuffer(data, dtype=np.uint8).copy()
    data[first[valid] + space[valid]] = ord("T")
    return pa.Array.from_buffers(pa.large_string(), len(text), [validity, offsets, pa.py_buffer(data)],
                                 text.null_count, text.offset)


def text(spec, array):
    """A large_string array (nulls kept) of the values of a ``char`` or ``unicodeChar`` FIELD:
    ASCII only for ``char``, at most ``max_elements`` characters."""
    array = _plain(array)
    if _is_time(array.type):
        array = _iso_times(array)
    elif pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.large_string())
    elif pa.types.is_boolean(array.type):
        array = pc.if_else(array, "T", "F")
    array = _cast(spec, array, pa.large_string())
    if spec.datatype == "char" and pc.all(pc.string_is_ascii(array)).as_py() is False:
        array = pc.replace_substring_regex(array, r"[^\x00-\x7F]", "?")
    limit = max_elements(spec)
    if limit is not None:
        array = pc.utf8_slice_codeunits(array, 0, limit)
        if spec.datatype == "unicodeChar":  # the limit counts UTF-16 code units
            array = pa.array([None if value is None else utf16(value, limit).decode("utf-16-be")
                              for value in array.to_pylist()], pa.large_string())
    return array


def utf16(value, limit=None):
    """UTF-16BE bytes of a string, at most ``limit`` code units, not splitting a surrogate pair."""
    data = value.encode("utf-16-be")
    if limit is not None and len(data) > 2 * limit:
        data = data[:2 * limit]
        if 0xD8 <= data[-2] <= 0xDB:  # a high surrogate whose pair was cut off
            data = data[:-2]
    return data


def xml_safe(array):
    """A string array made XML character data: escaped, characters XML cannot carry as ``?``."""
    array = pc.replace_substring_regex(array, _INVALID_XML_RE2, "?")
    for character, reference in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        array = pc.replace_substring(array, character, reference)
    return array


def blobs(spec, array):
    """A large_binary array (nulls kept) of the values of an ``unsignedByte`` array FIELD, at most
    ``max_elements`` bytes each."""
    array = _cast(spec, _plain(array), pa.large_binary())
    limit = max_elements(spec)
    return array if limit is None else pc.binary_slice(array, 0, limit)
