"""Searches of the alert archive as ADQL conditions (pure: built from validated numbers and the
archive's own column names only, never from user text).

A ``Search`` combines: a cone or a polygon, a time window on the source midpoint (MJD TAI,
``since`` inclusive, ``until`` exclusive), a diaObjectId, a visit, a band and range cuts
(column -> (low, high), either None) on the numeric searchable columns."""

from dataclasses import dataclass, field
import math

from astropy.time import Time

from qserv.errors import UserError

from qserv.payloads.alerts.packets import SEARCHABLE_SOURCE_FIELDS
from qserv.payloads.apdb.reads import region_adql
from qserv.sphere import Circle, Polygon

BANDS = ("u", "g", "r", "i", "z", "y")
RANGE_COLUMNS = tuple(name for name in ("diaSourceId", *SEARCHABLE_SOURCE_FIELDS)
                      if name not in ("band", "isNegative"))


@dataclass(frozen=True)
class Search:
    cone: tuple | None = None          # (ra_deg, dec_deg, radius_deg)
    polygon: tuple | None = None       # ((ra_deg, dec_deg), ...) at least 3 corners
    since_mjd_tai: float | None = None
    until_mjd_tai: float | None = None
    object_id: int | None = None
    visit: int | None = None
    band: str | None = None
    cuts: dict = field(default_factory=dict)  # column -> (low, high)
    limit: int | None = None


def parse_time(text):
    """An MJD TAI (a number) or an ISO time (UTC unless it says otherwise) as MJD TAI."""
    try:
        return _finite(float(text), "time")
    except ValueError:
        pass
    try:
        return float(Time(str(text), format="isot", scale="utc").tai.mjd)
    except ValueError:
        raise UserError(f"time {text!r} is neither an MJD TAI nor an ISO time (e.g. 2026-12-07T03:00:00)") from None


def parse_cone(text):
    """'RA,DEC,RADIUS_DEG' -> (ra, dec, radius)."""
    parts = str(text).split(",")
    if len(parts) != 3:
        raise UserError(f"a cone is RA,DEC,RADIUS_DEG (degrees), got {text!r}")
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise UserError(f"a cone is RA,DEC,RADIUS_DEG (numbers, degrees), got {text!r}") from None


def parse_polygon(text):
    """'RA1,DEC1,RA2,DEC2,...' -> ((ra, dec), ...)."""
    try:
        numbers = [float(p) for p in str(text).split(",")]
    except ValueError:
        raise UserError(f"a polygon is RA1,DEC1,RA2,DEC2,... (numbers, degrees), got {text!r}") from None
    if len(numbers) < 6 or len(numbers) % 2:
        raise UserError(f"a polygon needs at least 3 corners as RA,DEC pairs, got {len(numbers)} numbers")
    return tuple(zip(numbers[::2], numbers[1::2]))


def region(search):
    """The qserv.sphere region of a search, or None."""
    if search.cone is not None and search.polygon is not None:
        raise UserError("a search takes a cone or a polygon, not both")
    if search.cone is not None:
        ra, dec, radius = search.cone
        return Circle(ra, dec, radius)
    if search.polygon is not None:
        return Polygon([c[0] for c in search.polygon], [c[1] for c in search.polygon])
    return None


def conditions(search):
    """The ADQL conditions of ``search`` (a list, combined with AND; empty: every alert)."""
    found = []
    shape = region(search)
    if shape is not None:
        found.append(f"CONTAINS(POINT('ICRS', ra, dec), {region_adql(shape)}) = 1")
    if search.since_mjd_tai is not None:
        found.append(f'"midpointMjdTai" >= {_finite(search.since_mjd_tai, "since")!r}')
    if search.until_mjd_tai is not None:
        found.append(f'"midpointMjdTai" < {_finite(search.until_mjd_tai, "until")!r}')
    if search.object_id is not None:
        found.append(f'"diaObjectId" = {int(search.object_id)}')
    if search.visit is not None:
        found.append(f'"visit" = {int(search.visit)}')
    if search.band is not None:
        if search.band not in BANDS:
            raise UserError(f"band {search.band!r} is not one of {', '.join(BANDS)}")
        found.append(f"\"band\" = '{search.band}'")
    for name, (low, high) in sorted(search.cuts.items()):
        if name not in RANGE_COLUMNS:
            raise UserError(f"no cut on {name!r}: the searchable columns are {', '.join(RANGE_COLUMNS)}")
        if low is not None:
            found.append(f'"{name}" >= {_finite(low, name)!r}')
        if high is not None:
            found.append(f'"{name}" <= {_finite(high, name)!r}')
    return found


def parse_cut(text):
    """'COLUMN:LOW:HIGH' (either bound may be empty) -> (column, (low, high))."""
    parts = str(text).split(":")
    if len(parts) != 3:
        raise UserError(f"a cut is COLUMN:LOW:HIGH (a bound may be empty), got {text!r}")
    try:
        bounds = tuple(float(p) if p.strip() else None for p in parts[1:])
    except ValueError:
        raise UserError(f"a cut's bounds are numbers, got {text!r}") from None
    return parts[0], bounds


def _finite(value, what):
    number = float(value)
    if not math.isfinite(number):
        raise UserError(f"{what} must be a finite number, got {value!r}")
    return number
