"""Dataset footprints (pure): a circle (centre, radius) from ``s_ra``/``s_dec``/``s_fov`` or from
an ``s_region`` polygon, its STC-S text, and the exact test of a footprint against a search circle."""

import re

import numpy as np

from qserv.errors import UserError

_STCS = re.compile(r"^\s*POLYGON\s+(?:ICRS\s+)?(.*)$", re.IGNORECASE)


def _unit(ra_deg, dec_deg):
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def separation_deg(ra1, dec1, ra2, dec2):
    """Angular distance in degrees (haversine: exact for small separations)."""
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1))))


def polygon_vertices(region):
    """[(ra, dec), ...] of an ``s_region``: a flat list of numbers or an STC-S POLYGON text."""
    if isinstance(region, str):
        match = _STCS.match(region)
        if not match:
            raise UserError(f"s_region {region[:60]!r}: expected 'POLYGON [ICRS] ra1 dec1 ra2 dec2 ...'")
        try:
            region = [float(v) for v in match.group(1).split()]
        except ValueError:
            raise UserError(f"s_region {region[:60]!r}: vertices must be numbers") from None
    values = [float(v) for v in region]
    if len(values) < 6 or len(values) % 2:
        raise UserError("s_region: a polygon needs at least 3 (ra, dec) vertices")
    vertices = list(zip(values[0::2], values[1::2]))
    if not all(-90 <= dec <= 90 and np.isfinite(ra) for ra, dec in vertices):
        raise UserError("s_region: a vertex is not a sky position")
    return vertices


def footprint(row):
    """(ra, dec, radius_deg, s_region STC-S) of an input row, or None without sky coverage."""
    region = row.get("s_region")
    if region is not None and not (isinstance(region, float) and np.isnan(region)):
        vertices = polygon_vertices(region)
        ras, decs = np.array(vertices).T
        centre = _unit(ras, decs).sum(axis=0)
        centre /= np.linalg.norm(centre)
        ra = float(np.degrees(np.arctan2(centre[1], centre[0])) % 360.0)
        dec = float(np.degrees(np.arcsin(np.clip(centre[2], -1, 1))))
        radius = float(np.max(separation_deg(ra, dec, ras, decs)))
        text = "POLYGON ICRS " + " ".join(f"{v:.9g}" for pair in vertices for v in pair)
        return ra, dec, radius, text
    if row.get("s_ra") is None or row.get("s_dec") is None:
        return None
    ra, dec = float(row["s_ra"]), float(row["s_dec"])
    if not (np.isfinite(ra) and -90 <= dec <= 90):
        raise UserError(f"s_ra, s_dec = {ra}, {dec} is not a sky position")
    radius = float(row.get("s_fov") or 0.0) / 2
    if radius < 0 or not np.isfinite(radius):
        raise UserError(f"s_fov {row.get('s_fov')} is not a diameter")
    return ra % 360.0, dec, radius, f"CIRCLE ICRS {ra % 360.0:.9g} {dec:.9g} {radius:.9g}"


def touches(ra, dec, radius_deg, centre_ra, centre_dec, search_radius_deg):
    """Mask of footprints (circles) that overlap the search circle."""
    return separation_deg(ra, dec, centre_ra, centre_dec) <= radius_deg + search_radius_deg
