"""Times of telemetry and exposures as TAI MJDs (pure: no I/O).

A time column is either numeric (an MJD, TAI) or a TAI timestamp (Arrow timestamp, or ISO 8601
text such as ``2026-12-07T03:15:00.250``). Everything is stored as a double MJD in TAI; TAI has no
leap seconds, so the conversion is plain arithmetic from the MJD epoch 1858-11-17T00:00.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import InputError

MJD_EPOCH = np.datetime64("1858-11-17T00:00:00", "ns")
NS_PER_DAY = 86_400 * 1_000_000_000
SECONDS_PER_DAY = 86_400.0


def to_mjd_tai(values, where, column):
    """``values`` (a pyarrow array or chunked array) as a numpy float64 array of TAI MJDs;
    InputError naming ``where``, the 1-based row and ``column`` for a value that is no time."""
    values = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        mjd = values.cast(pa.float64())
    elif pa.types.is_timestamp(kind):
        mjd = _from_timestamps(values.cast(pa.timestamp("ns")))
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        mjd = _from_text(values, where, column)
    else:
        raise InputError(where, f"{kind} is not a time (expected an MJD or a TAI timestamp)", column=column)
    bad = pc.invert(pc.fill_null(pc.is_finite(mjd), False))
    if pc.any(bad).as_py():
        row = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0])
        raise InputError(where, f"{values[row].as_py()!r} is not a time", row=row + 1, column=column)
    return mjd.to_numpy()


def _from_timestamps(values):
    ns = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
    epoch = MJD_EPOCH.astype(np.int64)
    return pa.chunked_array([pa.array((ns - epoch) / NS_PER_DAY, pa.float64(),
                                      mask=values.is_null().to_numpy(zero_copy_only=False))])


def _from_text(values, where, column):
    text = values.to_numpy(zero_copy_only=False)
    out = np.empty(len(text), np.float64)
    for row, value in enumerate(text):
        try:
            out[row] = float(value)  # an MJD written as text (CSV)
            continue
        except (TypeError, ValueError):
            pass
        try:
            stamp = np.datetime64(str(value).strip().rstrip("Z"), "ns")
        except ValueError:
            stamp = np.datetime64("NaT")
        if value is None or np.isnat(stamp):
            raise InputError(where, f"cannot parse {value!r} as a TAI time (ISO 8601 or MJD)",
                             row=row + 1, column=column)
        out[row] = (stamp - MJD_EPOCH).astype(np.int64) / NS_PER_DAY
    return pa.chunked_array([pa.array(out)])


def parse_time(value, what):
    """One time given by a user (``--since``/``--until``): an MJD or a TAI ISO 8601 timestamp."""
    from qserv.errors import UserError

    try:
        return float(to_mjd_tai(pa.array([str(value)]), what, what)[0])
    except InputError as error:
        raise UserError(f"{what}: {error.reason}") from None
