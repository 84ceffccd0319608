"""Association of a visit's DiaSources with the DiaObjects of its field (pure: no I/O).

The rule (``match_sources``):
- a source and an object are candidates when their great-circle separation is at most the radius;
- candidate pairs are taken greedily in the order (separation, diaSourceId, diaObjectId), a pair
  being kept when neither its source nor its object is taken yet. So each source gets the nearest
  object no nearer source has taken, each object gets at most one source per visit, and ties go to
  the smaller source id, then the smaller object id. Separations are ordered after rounding to
  1e-6 arcsec (``TIE_RESOLUTION_ARCSEC``), so that true ties stay ties whatever formula rounds them.
  (With all separations distinct this is the unique stable matching: no source and object both
  prefer each other to what they got.)
- unmatched sources create DiaObjects whose diaObjectId is the creating diaSourceId (as Rubin's
  association does), so retries allocate the same ids.

Candidates are found with the zones algorithm (declination stripes one radius high, a sorted
(zone, RA) key, RA windows widened by 1/cos(dec)), vectorised with numpy.

``associate`` then writes the new DiaObject versions (``object_versions``): nDiaSources is the old
count plus one, the position and the per-band psfFlux / scienceFlux statistics are recomputed from
the object's DiaSources in the history given (the 12-month window the visit read) plus this visit's.
The forced-photometry means (``*_fpFlux*``) and the position errors are carried over unchanged.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from qserv.errors import InputError
from qserv.sphere.angles import (ARCSEC_PER_DEG, angular_separation_deg, unit_vectors, validate_positions,
                                vectors_to_radec)

BANDS = ("u", "g", "r", "i", "z", "y")
_KEY_STRIDE = 2048.0  # > the 1080 degrees a shifted RA (ra + 360, copies at -360 .. 720) spans
TIE_RESOLUTION_ARCSEC = 1e-6
_RA_PAD_DEG = 1e-6  # widening of the RA windows against rounding of the (zone, RA) key; exact test after


@dataclass(frozen=True)
class Matches:
    """Matched pairs as positions in the inputs, in match order, and the unmatched sources."""

    source_index: np.ndarray
    object_index: np.ndarray
    separation_arcsec: np.ndarray
    unmatched_source_index: np.ndarray


@dataclass(frozen=True)
class Association:
    """The visit's sources with diaObjectId set, and the new DiaObject versions to store."""

    sources: pa.Table
    objects: pa.Table
    matches: Matches


def candidate_pairs(ra1_deg, dec1_deg, ra2_deg, dec2_deg, radius_deg):
    """(i, j, separation_deg) of all pairs with separation <= radius_deg, sorted by (i, j)."""
    ra1, dec1 = validate_positions(ra1_deg, dec1_deg, "source position")
    ra2, dec2 = validate_positions(ra2_deg, dec2_deg, "object position")
    if not radius_deg > 0:
        raise ValueError(f"the association radius must be positive, got {radius_deg!r} degrees")
    empty = np.zeros(0, dtype=np.int64)
    if len(ra1) == 0 or len(ra2) == 0:
        return empty, empty.copy(), np.zeros(0)
    height = float(radius_deg)
    half_width = _ra_half_width(dec1, height)
    full = half_width >= 180.0
    widest = float(half_width.max())
    ra2_all, index2 = _wrapped_copies(ra2, min(widest, 180.0))
    zone2 = np.floor((dec2[index2] + 90.0) / height)
    keys = zone2 * _KEY_STRIDE + (ra2_all + 360.0)
    order = np.argsort(keys, kind="stable")
    keys, index2 = keys[order], index2[order]
    zone1 = np.floor((dec1 + 90.0) / height)
    sources, starts, stops = [], [], []
    for dz in (-1.0, 0.0, 1.0):
        base = (zone1 + dz) * _KEY_STRIDE
        low = np.where(full, base - 1.0, base + ra1 + 360.0 - half_width)
        high = np.where(full, base + _KEY_STRIDE - 1.0, base + ra1 + 360.0 + half_width)
        starts.append(np.searchsorted(keys, low, side="left"))
        stops.append(np.searchsorted(keys, high, side="right"))
        sources.append(np.arange(len(ra1)))
    i, positions = _expand(np.concatenate(sources), np.concatenate(starts), np.concatenate(stops))
    j = index2[positions]
    unique = np.unique(i * len(ra2) + j)
    i, j = unique // len(ra2), unique % len(ra2)
    separation = angular_separation_deg(ra1[i], dec1[i], ra2[j], dec2[j])
    near = separation <= radius_deg
    return i[near], j[near], separation[near]


def _ra_half_width(dec, radius_deg):
    """Half-width in RA of the window holding every point within radius_deg (180: whole stripe)."""
    extreme = np.abs(dec) + radius_deg
    with np.errstate(divide="ignore"):
        width = radius_deg / np.cos(np.radians(np.minimum(extreme, 90.0)))
    return np.where(extreme >= 89.9, 180.0, np.minimum(width + _RA_PAD_DEG, 180.0))


def _wrapped_copies(ra, half_width):
    """RA of the points plus copies shifted by -/+360 near RA 0/360, and the original indices."""
    index = np.arange(len(ra))
    low, high = index[ra < half_width], index[ra > 360.0 - half_width]
    return (np.concatenate([ra, ra[low] + 360.0, ra[high] - 360.0]),
            np.concatenate([index, low, high]))


def _expand(owners, starts, stops):
    """(owner, position) for every position in [start, stop) of each owner."""
    counts = np.maximum(stops - starts, 0)
    total = int(counts.sum())
    owner = np.repeat(owners, counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + offsets


def match_sources(source_ids, source_ra, source_dec, object_ids, object_ra, object_dec, radius_arcsec=1.0):
    """Greedy nearest matching (see the module docstring) of sources to objects."""
    source_ids, object_ids = np.asarray(source_ids, dtype=np.int64), np.asarray(object_ids, dtype=np.int64)
    i, j, separation = candidate_pairs(source_ra, source_dec, object_ra, object_dec, radius_arcsec / ARCSEC_PER_DEG)
    rounded = np.round(separation * ARCSEC_PER_DEG / TIE_RESOLUTION_ARCSEC)
    order = np.lexsort((object_ids[j], source_ids[i], rounded))
    i, j, separation = i[order], j[order], separation[order]
    kept = np.zeros(len(i), dtype=bool)
    alive = np.ones(len(i), dtype=bool)
    while alive.any():
        # A pair first (in match order) among the remaining pairs of both its source and its
        # object is taken by the greedy pass; taking all such pairs at once gives the same result.
        live = np.flatnonzero(alive)
        first_of_source = live[np.unique(i[live], return_index=True)[1]]
        first_of_object = live[np.unique(j[live], return_index=True)[1]]
        taken = np.intersect1d(first_of_source, first_of_object)
        kept[taken] = True
        alive &= ~np.isin(i, i[taken]) & ~np.isin(j, j[taken])
    matched = np.zeros(len(source_ids), dtype=bool)
    matched[i[kept]] = True
    return Matches(i[kept], j[kept], separation[kept] * ARCSEC_PER_DEG, np.flatnonzero(~matched))


def associate(sources, objects, history, visit_time_mjd, radius_arcsec=1.0):
    """Associate a visit's ``sources`` with the field's ``objects`` (latest versions).

    ``history`` holds earlier DiaSources (any; those of the matched objects are used), or None.
    Returns the sources with diaObjectId set and the new versions of the matched objects plus the
    new objects, in the schema of ``objects``, valid from ``visit_time_mjd``.
    """
    source_ids = _unique_ids(sources, "DiaSource", "diaSourceId")
    object_ids = _unique_ids(objects, "DiaObject", "diaObjectId")
    matches = match_sources(source_ids, _column(sources, "DiaSource", "ra"), _column(sources, "DiaSource", "dec"),
                            object_ids, _column(objects, "DiaObject", "ra"), _column(objects, "DiaObject", "dec"),
                            radius_arcsec)
    assigned = source_ids.copy()  # unmatched sources found objects with their own ids
    assigned[matches.source_index] = object_ids[matches.object_index]
    clash = np.intersect1d(source_ids[matches.unmatched_source_index], object_ids)
    if len(clash):
        raise InputError("DiaSource", f"diaSourceId {int(clash[0])} is also the id of an existing DiaObject "
                                      "(a new DiaObject takes the id of the source that creates it)",
                         column="diaSourceId")
    owners, index = pa.array(assigned, type=pa.int64()), sources.schema.get_field_index("diaObjectId")
    sources = (sources.set_column(index, "diaObjectId", owners) if index >= 0
               else sources.append_column("diaObjectId", owners))
    previous = objects.take(pa.array(matches.object_index, type=pa.int64()))
    versions = object_versions(previous, sources, matches.unmatched_source_index, history, visit_time_mjd)
    return Association(sources, versions, matches)


def _unique_ids(table, name, column):
    ids = _column(table, name, column).astype(np.int64)
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        repeated = np.flatnonzero(counts > 1)[0]
        row = int(np.flatnonzero(ids == values[repeated])[1]) + 1
        raise InputError(name, f"duplicate {column} {int(values[repeated])}", row=row, column=column)
    return ids


def _column(table, name, column):
    if column not in table.column_names:
        raise InputError(name, "missing column", column=column)
    array = table.column(column)
    if array.null_count:
        row = int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise InputError(name, "null value", row=row, column=column)
    return array.to_numpy()


def object_versions(previous, sources, new_index, history, visit_time_mjd):
    """New DiaObject versions: ``previous`` rows updated, plus one object per source in ``new_index``."""
    schema = previous.schema
    new_sources = sources.take(pa.array(new_index, type=pa.int64()))
    base = pa.concat_tables([previous, _null_rows(schema, len(new_sources))])
    ids = np.concatenate([previous.column("diaObjectId").to_numpy(),
                          new_sources.column("diaSourceId").to_numpy()]).astype(np.int64)
    stats = _statistics(ids, sources, history)
    old_count = base.column("nDiaSources").fill_null(0).to_numpy().astype(np.int64)
    old_first = base.column("firstDiaSourceMjdTai").to_numpy(zero_copy_only=False).astype(np.float64)
    first = np.where(np.isnan(old_first), stats["firstMjdTai"], old_first)
    updates = {
        "diaObjectId": ids, "validityStartMjdTai": np.full(len(ids), float(visit_time_mjd)),
        "validityEndMjdTai": pa.nulls(len(ids), pa.float64()), "nDiaSources": old_count + stats["visitCount"],
        "firstDiaSourceMjdTai": first, "lastDiaSourceMjdTai": stats["lastMjdTai"],
        **{name: stats[name] for name in stats if name in schema.names},
    }
    for name, values in updates.items():
        field = schema.field(name)
        array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, from_pandas=True)
        base = base.set_column(schema.get_field_index(name), field, array.cast(field.type))
    return base


def _null_rows(schema, count):
    return pa.table({field.name: pa.nulls(count, type=field.type) for field in schema}, schema=schema)


def _statistics(ids, sources, history):
    """Per-object statistics (arrays aligned with ``ids``, NaN where undefined) over the objects'
    sources in history + visit; per band (u..y) and object: inverse-variance weighted means and
    their errors, sample standard deviation, count, min, max, largest slope between consecutive
    (time-ordered) fluxes, mean error."""
    parts = [_stat_columns(sources, True)]
    if history is not None and history.num_rows:
        known = np.isin(history.column("diaObjectId").to_numpy(zero_copy_only=False), ids)
        repeated = np.isin(history.column("diaSourceId").to_numpy(), sources.column("diaSourceId").to_numpy())
        parts.append(_stat_columns(history.filter(pa.array(known & ~repeated)), False))
    rows = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    keep = np.isin(rows["id"], ids)
    rows = {name: values[keep] for name, values in rows.items()}
    by_id = np.argsort(ids)
    owner = by_id[np.searchsorted(ids, rows["id"], sorter=by_id)]
    count = len(ids)
    total = np.bincount
    vectors = unit_vectors(rows["ra"], rows["dec"])
    ra, dec = vectors_to_radec(np.stack([total(owner, vectors[:, k], count) for k in range(3)], axis=-1))
    stats = {"ra": ra, "dec": dec, "visitCount": total(owner, rows["visit_row"], count).astype(np.int64),
             "firstMjdTai": _extreme(np.fmin, owner, rows["t"], count),
             "lastMjdTai": _extreme(np.fmax, owner, rows["t"], count)}
    for band_index, band in enumerate(BANDS):
        stats.update(_band_statistics(band, {k: v[rows["band"] == band_index] for k, v in rows.items()},
                                      owner[rows["band"] == band_index], count))
    return stats


def _band_statistics(band, rows, owner, count):
    f, e, t = rows["f"], rows["e"], rows["t"]
    valid = np.isfinite(f)
    n = np.bincount(owner[valid], minlength=count)
    weight = np.where(valid & (e > 0), 1.0 / np.where(e > 0, e, 1.0) ** 2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(owner[valid], f[valid], count) / n
        spread = np.bincount(owner[valid], (f[valid] - mean[owner[valid]]) ** 2, count)
        sigma = np.where(n > 1, np.sqrt(spread / (n - 1)), np.nan)
        errors = np.isfinite(e)
        error_mean = np.bincount(owner[errors], e[errors], count) / np.bincount(owner[errors], minlength=count)
    order = np.lexsort((rows["source_id"][valid], t[valid], owner[valid]))
    g, ft, tt = owner[valid][order], f[valid][order], t[valid][order]
    step = (g[1:] == g[:-1]) & (tt[1:] != tt[:-1])
    slope = (ft[1:] - ft[:-1])[step] / (tt[1:] - tt[:-1])[step]
    psf = _weighted_mean(owner, f, weight, count)
    science = _weighted_mean(owner, rows["sf"], np.where(rows["se"] > 0, rows["se"], np.nan) ** -2.0, count)
    return {f"{band}_psfFluxMean": psf[0], f"{band}_psfFluxMeanErr": psf[1], f"{band}_psfFluxSigma": sigma,
            f"{band}_psfFluxNdata": n, f"{band}_psfFluxMin": _extreme(np.fmin, owner[valid], f[valid], count),
            f"{band}_psfFluxMax": _extreme(np.fmax, owner[valid], f[valid], count),
            f"{band}_psfFluxMaxSlope": _extreme(np.fmax, g[1:][step], slope, count),
            f"{band}_psfFluxErrMean": error_mean,
            f"{band}_scienceFluxMean": science[0], f"{band}_scienceFluxMeanErr": science[1]}


def _weighted_mean(owner, values, weight, count):
    """(mean, error) per group with inverse-variance weights (rows with NaN value or weight skipped)."""
    usable = np.isfinite(values) & np.isfinite(weight) & (weight > 0)
    weights = np.bincount(owner[usable], weight[usable], count)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.bincount(owner[usable], weight[usable] * values[usable], count) / weights,
                np.where(weights > 0, 1.0 / np.sqrt(weights), np.nan))


def _extreme(function, owner, values, count):
    """Per-group minimum (np.fmin) or maximum (np.fmax) of values; NaN for empty groups."""
    result = np.full(count, np.nan)
    function.at(result, owner, values)
    return result


def _stat_columns(table, visit_row):
    """The columns the statistics use, as float64 (NaN for null or absent) / int64 arrays; band as
    its index in BANDS (-1 for others)."""
    def floats(name):  # an absent (nullable) column counts as null
        if name not in table.column_names:
            return np.full(table.num_rows, np.nan)
        return table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)

    bands = (np.asarray(table.column("band").cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False))
             if "band" in table.column_names else np.full(table.num_rows, ""))
    band_index = np.full(len(bands), -1)
    for index, band in enumerate(BANDS):
        band_index[bands == band] = index
    return {"id": table.column("diaObjectId").cast(pa.int64()).fill_null(-1).to_numpy(),
            "source_id": table.column("diaSourceId").to_numpy().astype(np.int64), "band": band_index,
            "ra": floats("ra"), "dec": floats("dec"), "t": floats("midpointMjdTai"), "f": floats("psfFlux"),
            "e": floats("psfFluxErr"), "sf": floats("scienceFlux"), "se": floats("scienceFluxErr"),
            "visit_row": np.full(table.num_rows, 1.0 if visit_row else 0.0)}
