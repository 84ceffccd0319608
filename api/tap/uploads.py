"""TAP UPLOAD: ``UPLOAD=name,URI[;name2,URI2]`` with URI ``param:part`` (a multipart part of the
same request) or http(s); each VOTable becomes an Arrow table readable as ``TAP_UPLOAD.name``.
NULLs (masked values) stay NULL, ``xtype="timestamp"`` columns become timestamps. http(s) URIs
are fetched by :mod:`qserv.api.tap.fetch` (public addresses only, bounded in size and time), at
most as many at once as the fetch semaphore allows."""

from dataclasses import dataclass
import io
import logging
import threading
import warnings

import numpy as np
import pyarrow as pa

from qserv.api.tap.fetch import FetchError, FetchPolicy, fetch
from qserv.errors import TapParameterError, UploadError, UploadsBusyError
from qserv.schema.columns import check_identifier

log = logging.getLogger(__name__)
MAX_TABLES = 8  # tables one UPLOAD parameter may name


@dataclass(frozen=True)
class UploadLimits:
    max_rows: int
    fetch_policy: FetchPolicy
    fetch_slots: threading.Semaphore


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
    if len(specs) > MAX_TABLES:
        raise TapParameterError(f"UPLOAD names {len(specs)} tables, more than {MAX_TABLES}")
    names = [name.lower() for name, _ in specs]
    if len(set(names)) != len(names):
        raise TapParameterError("UPLOAD names a table twice")
    return specs


def upload_bytes(name, uri, files, limits):
    """The bytes behind one UPLOAD URI; ``files`` maps multipart part names to file objects."""
    max_bytes = limits.fetch_policy.max_bytes
    if not uri.startswith("param:"):
        return _fetched(name, uri, limits)
    part = uri[len("param:"):]
    if part not in files:
        raise TapParameterError(f"UPLOAD {name}: the request has no part named {part!r}")
    data = files[part].read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadError(f"UPLOAD {name}: larger than {max_bytes >> 20} MiB")
    return data


def _fetched(name, uri, limits):
    """The body behind an http(s) URI; every failure gives the same text (no network oracle)."""
    if not limits.fetch_slots.acquire(blocking=False):
        raise UploadsBusyError(f"UPLOAD {name}: too many upload URLs are being fetched now; try again "
                               f"later or send the table in the request (UPLOAD={name},param:PART)")
    try:
        return fetch(uri, limits.fetch_policy)
    except FetchError as error:
        log.info("UPLOAD %s not fetched: %s", name, error)
        policy = limits.fetch_policy
        raise UploadError(f"UPLOAD {name}: the URL cannot be fetched (it must be a public http(s) address "
                          f"answering 200 with at most {policy.max_bytes >> 20} MiB within "
                          f"{policy.timeout_s:g} s)") from None
    finally:
        limits.fetch_slots.release()


def read_uploads(text, files, limits):
    """{name: pyarrow.Table} of an UPLOAD parameter under ``limits`` (UploadLimits)."""
    return {name: votable_table(name, upload_bytes(name, uri, files, limits), limits.max_rows)
            for name, uri in upload_specs(text)}


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
