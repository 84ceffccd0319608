"""A vectorised, streaming VOTable 1.4 writer (BINARY2 or TABLEDATA) for Arrow results.

The document has one ``RESOURCE type="results"`` with ``INFO name="QUERY_STATUS"`` before the
TABLE and, for a truncated result, a second one with ``value="OVERFLOW"`` after ``</TABLE>``
(decided after the last row, so a streaming caller may decide late). Rows are encoded per Arrow
batch (sliced to at most ``BLOCK_ROWS`` rows) with numpy and Arrow compute kernels, never row by
row in Python, and yielded as they are made: memory stays bounded by one block.

BINARY2 rows are a null-flag bitmap (one bit per FIELD, most significant bit first) followed by
each value big-endian; variable-size arrays are a 4-byte element count then the elements. The
base64 text is cut at multiples of 3 bytes, so the yielded pieces concatenate to one valid text.
See :mod:`qserv.formats.votable_fields` for the FIELD types and the value conventions (non-ASCII
characters of ``char`` columns are written as ``?``; ``unicodeChar`` is UTF-16 big-endian).
"""

import binascii
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import UserError
from qserv.formats.votable_fields import (
    ELEMENT_BYTES, NUMBER_TYPES, FieldSpec, blobs, field_ids, field_xml, is_fixed, max_elements,
    numbers, text, utf16, votable_fields, xml_attribute, xml_safe, xml_text,
)

__all__ = ["VOTABLE_MIME", "FieldSpec", "votable_fields", "votable_chunks", "votable_bytes",
           "error_votable"]

VOTABLE_MIME = "application/x-votable+xml"
SERIALIZATIONS = ("binary2", "tabledata")
BLOCK_ROWS = 65536

_OPEN = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3" '
         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
         'xsi:schemaLocation="http://www.ivoa.net/xml/VOTable/v1.3 '
         'http://www.ivoa.net/xml/VOTable/VOTable-1.4.xsd">\n'
         '<RESOURCE type="results">\n')
_CLOSE = "</RESOURCE>\n</VOTABLE>\n"
_DATA = {"binary2": ('<DATA><BINARY2><STREAM encoding="base64">\n', "</STREAM></BINARY2></DATA>\n"),
         "tabledata": ("<DATA><TABLEDATA>\n", "</TABLEDATA></DATA>\n")}
_EMPTY = pa.scalar(b"", pa.large_binary())


def _info(name, value, content=None):
    head = f'<INFO name="{xml_attribute(name)}" value="{xml_attribute(value)}"'
    return head + "/>\n" if content is None else f"{head}>{xml_text(content)}</INFO>\n"


def error_votable(message):
    """A VOTable with ``QUERY_STATUS=ERROR`` and ``message`` (the TAP error document)."""
    return (_OPEN + _info("QUERY_STATUS", "ERROR", message) + _CLOSE).encode()


# --- BINARY2 ---------------------------------------------------------------------------------

def _offsets(array):
    """The int64 offsets of a large_binary / large_string array (len(array) + 1 of them)."""
    return np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset:array.offset + len(array) + 1]


def _data(array, offsets):
    buffer = array.buffers()[2]
    if buffer is None or offsets[-1] == offsets[0]:
        return np.empty(0, dtype=np.uint8)
    return np.frombuffer(buffer, dtype=np.uint8)[offsets[0]:offsets[-1]]


def _utf16(strings):
    """UTF-16BE bytes of a string array (nulls as empty): Python's codec per value, as
    unicodeChar columns are rare."""
    return pa.array([b"" if value is None else utf16(value) for value in strings.to_pylist()],
                    pa.large_binary())


def _array_bytes(spec, array):
    """(large_binary values without nulls, null mask) of an array FIELD."""
    if spec.datatype == "unsignedByte":
        values = blobs(spec, array)
    elif spec.datatype in ("char", "unicodeChar"):
        values = text(spec, array)
    else:
        raise UserError(f"result column {spec.name!r}: VOTable datatype {spec.datatype!r} with "
                        f"arraysize {spec.arraysize!r} is not supported")
    nulls = values.is_null().to_numpy(zero_copy_only=False)
    if spec.datatype == "unicodeChar":
        return _utf16(values), nulls
    return values.cast(pa.large_binary()).fill_null(_EMPTY), nulls


def _padded(values, width):
    """An (n, width) uint8 matrix of values of at most ``width`` bytes, NUL-padded."""
    offsets = _offsets(values)
    lengths = np.diff(offsets)
    matrix = np.zeros((len(values), width), dtype=np.uint8)
    matrix[np.arange(width) < lengths[:, None]] = _data(values, offsets)
    return matrix


def _packed(parts, rows):
    """A packed big-endian structured array of the (dtype, values) ``parts``, as bytes (uint8)."""
    dtype = np.dtype([(f"f{index}", part_dtype) for index, (part_dtype, _) in enumerate(parts)])
    record = np.empty(rows, dtype=dtype)
    for index, (_, values) in enumerate(parts):
        record[f"f{index}"] = values
    return record.view(np.uint8)


def binary2_rows(fields, columns, rows):
    """The BINARY2 bytes (a uint8 numpy array) of ``rows`` rows of Arrow ``columns``."""
    if not fields or rows == 0:
        return np.empty(0, dtype=np.uint8)
    flag_bytes = (len(fields) + 7) // 8
    segments, pieces, current, nulls = [], [], [None], []
    for spec, array in zip(fields, columns):
        if spec.datatype in NUMBER_TYPES and spec.arraysize is None:
            values, null = numbers(spec, array)
            if spec.datatype == "boolean":
                values = np.where(null, ord("?"), np.where(values, ord("T"), ord("F"))).astype(np.uint8)
            current.append((values.dtype.newbyteorder(">"), values))
        else:
            values, null = _array_bytes(spec, array)
            element = ELEMENT_BYTES[spec.datatype]
            if is_fixed(spec):
                width = max_elements(spec) * element
                current.append(((np.uint8, (width,)), _padded(values, width)))
            else:
                current.append((">i4", np.diff(_offsets(values)) // element))
                segments.append(current)
                pieces.append(values)
                current = []
        nulls.append(null)
    segments.append(current)
    flags = np.packbits(np.column_stack(nulls), axis=1) if any(n.any() for n in nulls) \
        else np.zeros((rows, flag_bytes), dtype=np.uint8)
    segments[0][0] = ((np.uint8, (flag_bytes,)), flags)
    packed = [_packed(parts, rows) for parts in segments]
    if not pieces:
        return packed[0]
    arrays = []
    for segment, piece in zip(packed, pieces + [None]):
        if len(segment):
            width = len(segment) // rows
            offsets = pa.py_buffer(np.arange(rows + 1, dtype=np.int64) * width)
            buffers = [None, offsets, pa.py_buffer(segment)]
            arrays.append(pa.Array.from_buffers(pa.large_binary(), rows, buffers))
        if piece is not None:
            arrays.append(piece)
    joined = pc.binary_join_element_wise(*arrays, _EMPTY)
    return _data(joined, _offsets(joined))


class _Base64:
    """Base64 text of a byte stream given in pieces: each piece's text ends on a multiple of 3
    input bytes (the remainder waits for the next piece), so the texts concatenate."""

    def __init__(self):
        self.carry = b""

    def encode(self, data):
        view = memoryview(data).cast("B")
        head = b""
        if self.carry:
            need = 3 - len(self.carry)
            if len(view) < need:
                self.carry += bytes(view)
                return b""
            head = binascii.b2a_base64(self.carry + bytes(view[:need]), newline=False)
            view = view[need:]
        cut = len(view) - len(view) % 3
        self.carry = bytes(view[cut:])
        return head + binascii.b2a_base64(view[:cut]) if cut else head

    def flush(self):
        text, self.carry = (binascii.b2a_base64(self.carry) if self.carry else b""), b""
        return text


# --- TABLEDATA -------------------------------------------------------------------------------

def _cells(spec, array):
    """A large_string array: the TABLEDATA text of each value, null for a null value."""
    if spec.datatype in NUMBER_TYPES and spec.arraysize is None:
        values, nulls = numbers(spec, array)
        typed = pa.array(values, mask=nulls)
        if spec.datatype == "boolean":
            return pc.if_else(typed, "T", "F").cast(pa.large_string())
        cells = typed.cast(pa.large_string())
        if spec.datatype in ("float", "double"):
            cells = pc.if_else(pc.is_nan(typed), "NaN", cells)
            cells = pc.if_else(pc.equal(typed, np.inf), "+Inf", cells)
            cells = pc.if_else(pc.equal(typed, -np.inf), "-Inf", cells)
        return cells
    if spec.datatype == "unsignedByte":
        width = max_elements(spec) if is_fixed(spec) else None
        return pa.array([None if value is None else " ".join(map(str, value.ljust(width or 0, b"\0")))
                         for value in blobs(spec, array).to_pylist()], pa.large_string())
    return xml_safe(text(spec, array))


def tabledata_rows(fields, columns, rows):
    """The TABLEDATA text (UTF-8 bytes) of ``rows`` rows of Arrow ``columns``."""
    if not fields or rows == 0:
        return b""
    open_cell, close_cell, null_cell, open_row, close_row, empty = (
        pa.scalar(markup, pa.large_string()) for markup in ("<TD>", "</TD>", "<TD/>", "<TR>", "</TR>\n", ""))
    cells = [pc.binary_join_element_wise(open_cell, _cells(spec, array), close_cell, empty)
             .fill_null(null_cell) for spec, array in zip(fields, columns)]
    joined = pc.binary_join_element_wise(open_row, *cells, close_row, empty)
    return _data(joined, _offsets(joined))


# --- the document ------------------------------------------------------------------------------

def _head(fields, serialization, status, infos, description):
    parts = [_OPEN]
    if description is not None:
        parts.append(f"<DESCRIPTION>{xml_text(description)}</DESCRIPTION>\n")
    parts.append(_info("QUERY_STATUS", status))
    parts += [_info(name, value) for name, value in (infos or {}).items()]
    parts.append("<TABLE>\n")
    parts += [field_xml(spec, field_id) + "\n" for spec, field_id in zip(fields, field_ids(fields))]
    parts.append(_DATA[serialization][0])
    return "".join(parts).encode()


def _blocks(batches, width):
    for batch in batches:
        if batch.num_columns != width:
            raise ValueError(f"a batch has {batch.num_columns} columns, the schema {width}")
        for start in range(0, batch.num_rows, BLOCK_ROWS):
            yield batch.slice(start, BLOCK_ROWS)


def _stream(fields, batches, serialization, overflow, head):
    yield head
    base64 = _Base64()
    for block in _blocks(batches, len(fields)):
        if serialization == "binary2":
            piece = base64.encode(binary2_rows(fields, block.columns, block.num_rows))
        else:
            piece = memoryview(tabledata_rows(fields, block.columns, block.num_rows)).tobytes()
        if piece:
            yield piece
    tail = [base64.flush(), _DATA[serialization][1].encode(), b"</TABLE>\n"]
    if overflow() if callable(overflow) else overflow:
        tail.append(_info("QUERY_STATUS", "OVERFLOW").encode())
    tail.append(_CLOSE.encode())
    yield b"".join(tail)


def votable_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, serialization="binary2",
                   status="OK", overflow: bool | Callable[[], bool] = False, infos: dict | None = None,
                   description: str | None = None) -> Iterator[bytes]:
    """The VOTable of ``batches`` (of ``schema``) as an iterator of byte pieces, made per batch.

    ``serialization`` is ``"binary2"`` or ``"tabledata"``; ``status`` the QUERY_STATUS before the
    TABLE; ``overflow`` (a bool, or a callable called after the last batch) adds the trailing
    OVERFLOW INFO; ``infos`` (name -> value) adds INFO elements; ``description`` the RESOURCE's.
    The FIELDs are computed now, so a column that cannot be written raises UserError at the call,
    before any byte is produced.
    """
    if serialization not in SERIALIZATIONS:
        raise UserError(f"unknown VOTable serialization {serialization!r} (expected one of "
                        f"{', '.join(SERIALIZATIONS)})")
    fields = votable_fields(schema)
    head = _head(fields, serialization, status, infos, description)
    return _stream(fields, batches, serialization, overflow, head)


def votable_bytes(table: pa.Table, **kwargs) -> bytes:
    """The whole VOTable of ``table`` (keyword arguments as :func:`votable_chunks`)."""
    return b"".join(votable_chunks(table.schema, table.to_batches(max_chunksize=BLOCK_ROWS), **kwargs))
