"""Spherical polygons: ADQL POLYGON, qserv_areaspec_poly, scisql_s2PtInCPoly.

Vertices are joined by great-circle edges (the shorter arc); edge ``i`` runs from vertex ``i`` to
vertex ``i + 1`` and the last edge closes back to vertex 0. The polygon must be simple (no two
edges meet except consecutive ones at their shared vertex) and fit in an open hemisphere; its
interior is then the side lying in that hemisphere, the smaller of the two. Either vertex order
gives the same polygon, and it may be non-convex.

Point-in-polygon works in the gnomonic projection centred on the hemisphere holding the polygon:
it maps great circles to straight lines, so the polygon becomes a planar one and the test is the
parity of the crossings of a ray from the point (a great-circle arc to a point outside).
Points within ``DEGENERATE_RAD`` of an edge count as on the boundary, hence inside.
"""

from typing import NamedTuple

import numpy as np

from qserv.errors import InvalidRegionError
from qserv.sphere.angles import unit_vectors, validate_positions, vector_separation_rad
from qserv.sphere.region import CAP_MARGIN_RAD, Region

# Angles below this (radians, ~0.2 microarcseconds) count as zero: an edge this short repeats a
# vertex, a point this close to an edge lies on it.
DEGENERATE_RAD = 1e-12
# Every vertex must be at least this far (as a cosine) inside the hemisphere holding the polygon.
HEMISPHERE_MIN_COS = 1e-6


def _dots(points, vectors):
    """(N, M) dot products of points (N, 3) with vectors (M, 3), summed in a fixed order."""
    return (points[:, None, 0] * vectors[None, :, 0] + points[:, None, 1] * vectors[None, :, 1]
            + points[:, None, 2] * vectors[None, :, 2])


def _cap_through(points):
    """(centre, cos_radius) of the smallest cap with 1 to 3 points on its rim (radius < 90 deg
    when they fit in a hemisphere), or the whole sphere when the points are degenerate."""
    if len(points) == 1:
        centre = points[0]
    elif len(points) == 2:
        centre = points[0] + points[1]
    else:
        centre = np.cross(points[1] - points[0], points[2] - points[0])
        centre = centre if centre @ points[0] >= 0.0 else -centre
    norm = np.linalg.norm(centre)
    if norm == 0.0:
        return points[0], -1.0
    centre = centre / norm
    return centre, min(float(centre @ point) for point in points)


def _enclosing_cap_centre(vertices):
    """Centre of the smallest cap holding all vertices (Welzl's algorithm in its iterative form,
    over a fixed shuffle). Only meaningful when they fit in a hemisphere: callers check."""
    points = vertices[np.random.default_rng(0).permutation(len(vertices))]

    def outside(cap, point):
        return point @ cap[0] < cap[1] - 1e-15

    cap = _cap_through(points[:1])
    for i in range(1, len(points)):
        if outside(cap, points[i]):
            cap = _cap_through(points[i:i + 1])
            for j in range(i):
                if outside(cap, points[j]):
                    cap = _cap_through(points[[i, j]])
                    for k in range(j):
                        if outside(cap, points[k]):
                            cap = _cap_through(points[[i, j, k]])
    return cap[0]


def _edge_label(edge, count):
    return f"edge {edge} (vertex {edge} to vertex {(edge + 1) % count})"


def _check_simple(vertices, normals, from_vertex, to_vertex):
    """Raise InvalidRegionError naming the edges if any two edges meet, other than consecutive
    edges at their shared vertex. The vertices must fit in an open hemisphere."""
    count = len(vertices)
    index = np.arange(count)
    off = _dots(vertices, normals)  # off[k, e]: vertex k against the great circle of edge e
    touches = ((np.abs(off) <= DEGENERATE_RAD) & (_dots(vertices, from_vertex) >= -DEGENERATE_RAD)
               & (_dots(vertices, to_vertex) >= -DEGENERATE_RAD))
    touches[index, index] = touches[(index + 1) % count, index] = False
    if touches.any():
        vertex, edge = (int(i) for i in np.argwhere(touches)[0])
        raise InvalidRegionError(
            f"polygon is self-intersecting: vertex {vertex} (where edges {(vertex - 1) % count} "
            f"and {vertex} meet) lies on {_edge_label(edge, count)}"
        )
    # straddles[f, e]: the ends of edge f lie strictly on either side of edge e's great circle.
    straddles = np.sign(off) * np.sign(np.roll(off, -1, axis=0)) < 0
    # Two edges straddling each other's great circles cross at one of the two points where the
    # circles meet (each edge meets the other's circle once); not one edge at each point, since
    # the polygon lies in an open hemisphere, which cannot hold both.
    crossing = straddles & straddles.T
    for shift in (-1, 0, 1):
        crossing[index, (index + shift) % count] = False
    if crossing.any():
        first, second = sorted(int(i) for i in np.argwhere(crossing)[0])
        raise InvalidRegionError(
            f"polygon is self-intersecting: {_edge_label(first, count)} crosses "
            f"{_edge_label(second, count)}"
        )


class PolygonFrame(NamedTuple):
    """``axes``: the gnomonic projection (centre, x axis, y axis); per edge, ``normals`` (unit
    normal of its great circle), ``from_vertex`` / ``to_vertex`` (P @ v >= 0: P is past the
    edge's start / before its end); ``plane_x`` / ``plane_y``: the projected vertices."""

    axes: np.ndarray
    normals: np.ndarray
    from_vertex: np.ndarray
    to_vertex: np.ndarray
    plane_x: np.ndarray
    plane_y: np.ndarray


class Polygon(Region):
    """A simple spherical polygon with great-circle edges, boundary included (module doc)."""

    def __init__(self, ra_deg, dec_deg):
        ra, dec = validate_positions(ra_deg, dec_deg, what="polygon vertex")
        count = len(ra)
        if count < 3:
            raise InvalidRegionError(f"a polygon needs at least 3 vertices, got {count}")
        self.ra_deg, self.dec_deg = ra, dec
        vertices = unit_vectors(ra, dec)
        following = np.roll(vertices, -1, axis=0)
        # V x F computed as (F + V) x (F - V) / 2, which keeps its precision for short edges.
        normals = 0.5 * np.cross(following + vertices, following - vertices)
        sin_lengths = np.linalg.norm(normals, axis=-1)
        for edge in np.flatnonzero(sin_lengths <= DEGENERATE_RAD):
            pair = f"polygon vertices {edge} and {(edge + 1) % count}"
            if vertices[edge] @ following[edge] > 0.0:
                raise InvalidRegionError(f"{pair} are repeated; consecutive vertices must differ")
            raise InvalidRegionError(f"{pair} are antipodal; the edge joining them is undefined")
        normals /= sin_lengths[:, None]
        if np.all(np.abs(vertices @ normals[0]) <= DEGENERATE_RAD):
            raise InvalidRegionError("polygon has zero area: all its vertices lie on one great circle")
        centre = _enclosing_cap_centre(vertices)
        if np.min(vertices @ centre) < HEMISPHERE_MIN_COS:
            raise InvalidRegionError(
                "polygon does not fit in a hemisphere; its interior (the smaller side) is ambiguous"
            )
        self._from_vertex = np.cross(normals, vertices)  # P @ it >= 0: P is past the edge's start
        self._to_vertex = np.cross(following, normals)  # P @ it >= 0: P is before the edge's end
        _check_simple(vertices, normals, self._from_vertex, self._to_vertex)
        self.vertices, self._normals = vertices, normals
        self._centre = centre
        # Gnomonic projection: the centre, then two plane axes orthogonal to it.
        first_axis = np.cross(np.eye(3)[np.argmin(np.abs(centre))], centre)
        first_axis /= np.linalg.norm(first_axis)
        self._axes = np.stack([centre, first_axis, np.cross(centre, first_axis)])
        projected = _dots(vertices, self._axes)
        self._plane_x = np.ascontiguousarray(projected[:, 1] / projected[:, 0])
        self._plane_y = np.ascontiguousarray(projected[:, 2] / projected[:, 0])

    def __repr__(self):
        return f"Polygon(ra_deg={self.ra_deg.tolist()}, dec_deg={self.dec_deg.tolist()})"

    def frame(self):
        """The precomputed planes of the inside test, for code that must answer exactly as
        ``contains`` does (the kernel, SQL generation): a PolygonFrame."""
        return PolygonFrame(self._axes, self._normals, self._from_vertex, self._to_vertex,
                            self._plane_x, self._plane_y)

    def _kernel_contains(self, regions_kernels, ra, dec):
        return regions_kernels.points_in_polygon(
            ra, dec, self._axes, self._normals, self._from_vertex, self._to_vertex,
            self._plane_x, self._plane_y, DEGENERATE_RAD,
        )

    def contains_reference(self, ra_deg, dec_deg):
        return self._contains_vectors(unit_vectors(*validate_positions(ra_deg, dec_deg)))

    def _contains_vectors(self, points):
        projected = _dots(points, self._axes)
        near_side = projected[:, 0] > 0.0
        on_edge = ((np.abs(_dots(points, self._normals)) <= DEGENERATE_RAD)
                   & (_dots(points, self._from_vertex) >= -DEGENERATE_RAD)
                   & (_dots(points, self._to_vertex) >= -DEGENERATE_RAD)).any(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (projected[:, 1] / projected[:, 0])[:, None]
            y = (projected[:, 2] / projected[:, 0])[:, None]
            x_start, y_start = self._plane_x, self._plane_y
            x_end, y_end = np.roll(x_start, -1), np.roll(y_start, -1)
            x_crossing = x_start + (y - y_start) * (x_end - x_start) / (y_end - y_start)
            crossings = ((y_start > y) != (y_end > y)) & (x < x_crossing)
        odd = np.count_nonzero(crossings, axis=1) % 2 == 1
        return near_side & (on_edge | odd)

    def cap_may_intersect(self, centres, radius_rad):
        centres = np.asarray(centres, dtype=np.float64)
        off = np.abs(_dots(centres, self._normals))
        to_circle = np.arctan2(off, np.sqrt(np.maximum(1.0 - off * off, 0.0)))
        foot_on_edge = ((_dots(centres, self._from_vertex) >= 0.0)
                        & (_dots(centres, self._to_vertex) >= 0.0))
        ends = self.vertices[None, :, :]
        to_ends = np.minimum(vector_separation_rad(centres[:, None, :], ends),
                             vector_separation_rad(centres[:, None, :], np.roll(ends, -1, axis=1)))
        distance = np.where(foot_on_edge, to_circle, to_ends).min(axis=1)
        return self._contains_vectors(centres) | (distance <= radius_rad + CAP_MARGIN_RAD)

    def bounding_cap(self):
        return self._centre, float(np.max(vector_separation_rad(self.vertices, self._centre)))
