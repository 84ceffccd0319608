"""TAP UPLOAD: ``UPLOAD=name,URI[;name2,URI2]`` with URI ``param:part`` (a multipart part of the
same request) or http(s); each VOTable becomes an Arrow table readable as ``TAP_UPLOAD.name``.
NULLs (masked values) stay NULL, ``xtype="timestamp"`` columns become timestamps."""

import io
import warnings

import numpy as np
import pyarrow as pa
import requests

from qserv.api.tap.params import TapParameterError
from qserv.errors import UserError
from qserv.schema.columns import check_identifier

FETCH_TIMEOUT_S = 60
MAX_UPLOAD_BYTES = 256 * 1024 * 1024


class UploadError(UserError):
    """An uploaded table cannot be read."""


def upload_specs(text):
    """[(name, URI)] of an UPLOAD parameter."""
    specs = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, comma, uri = item.partition(",")
        name, uri = name.strip(), uri.strip()
        if not comma or not name or not uri:
            raise TapParameterError(f"UPLOAD item {item!r} must be NAME,URI (URI param:PART or http(s)://...)")
        check_identifier(name, "upload table")
        if not uri.startswith(("param:", "http://", "https://")):
            raise TapParameterError(f"UPLOAD {name}: unsupported URI {uri!r} (use param:PART or http(s)://)")
        specs.append((name, uri))
    names = [name.lower() for name, _ in specs]
    if len(set(names)) != len(names):
        raise TapParameterError("UPLOAD names a table twice")
    return specs


def upload_bytes(name, uri, files):
    """The bytes behind one UPLOAD URI; ``files`` maps multipart part names to file objects."""
    if uri.startswith("param:"):
        part = uri[len("param:"):]
        if part not in files:
            raise TapParameterError(f"UPLOAD {name}: the request has no part named {part!r}")
        data = files[part].read(MAX_UPLOAD_BYTES + 1)
    else:
        try:
            with requests.get(uri, timeout=FETCH_TIMEOUT_S, stream=True) as response:
                response.raise_for_status()
                data = response.raw.read(MAX_UPLOAD_BYTES + 1, decode_content=True)
        except requests.RequestException as error:
            raise UploadError(f"UPLOAD {name}: cannot fetch {uri}: {error}") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"UPLOAD {name}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    return data


def read_uploads(text, files, max_rows):
    """{name: pyarrow.Table} of an UPLOAD parameter."""
    return {name: votable_table(name, upload_bytes(name, uri, files), max_rows) for name, uri in upload_specs(text)}


def votable_table(name, data, max_rows):
    """The first table of a VOTable document as a pyarrow.Table."""
    from astropy.io.votable import parse_single_table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = parse_single_table(io.BytesIO(data), verify="ignore")
    except Exception as error:  # astropy raises many kinds for a bad document
        raise UploadError(f"UPLOAD {name}: not a readable VOTable: {error}") from None
    if table.array.shape[0] > max_rows:
        raise UploadError(f"UPLOAD {name}: {table.array.shape[0]} rows, more than the limit of {max_rows}")
    columns, names = [], []
    for position, field in enumerate(table.fields):
        names.append(check_identifier(field.name, f"UPLOAD {name} column"))
        columns.append(_arrow_column(name, field, table.array[table.array.dtype.names[position]]))
    return pa.table(columns, names=names)


def _arrow_column(table_name, field, values):
    data = np.ma.getdata(values)
    mask = np.ma.getmaskarray(values)
    if data.ndim > 1:
        raise UploadError(f"UPLOAD {table_name} column {field.name!r}: array values are not supported")
    if field.datatype in ("char", "unicodeChar"):
        texts = [None if masked else _text(value) for value, masked in zip(data.tolist(), mask.tolist())]
        column = pa.array(texts, pa.string())
        if (field.xtype or "").lower() == "timestamp":
            return _timestamps(table_name, field.name, column)
        return column
    if data.dtype == object:
        raise UploadError(f"UPLOAD {table_name} column {field.name!r}: variable-length "
                          f"{field.datatype} arrays are not supported")
    if field.datatype == "unsignedByte":
        data = data.astype(np.int16)
    return pa.array(data, mask=mask)


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _timestamps(table_name, column_name, column):
    try:
        return pa.array(np.array([None if v is None else np.datetime64(v.rstrip("Z"), "us")
                                  for v in column.to_pylist()], dtype="datetime64[us]"),
                        mask=column.is_null().to_numpy(zero_copy_only=False))
    except ValueError as error:
        raise UploadError(f"UPLOAD {table_name} column {column_name!r}: not an ISO 8601 timestamp: {error}") from None
