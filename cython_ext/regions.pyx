# cython: language_level=3, boundscheck=False, wraparound=False
"""Point-in-region kernels (references: the ``contains_reference`` methods of the regions in
qserv.sphere). Each takes contiguous float64 ``ra``, ``dec`` in degrees plus the region's
precomputed geometry, and returns a numpy bool array. Invalid positions (NaN, RA outside
[0, 360], Dec outside [-90, 90]) get no answer: the loops note them without branching, then the
kernel raises InvalidCoordinatesError naming the first offending index."""

import numpy as np
cimport numpy as cnp
from libc.math cimport cos, fabs, sin, M_PI

from qserv.sphere.angles import invalid_position_error

cnp.import_array()

cdef double DEG = M_PI / 180.0


cdef inline bint invalid(double ra, double dec) noexcept nogil:
    return not ((ra >= 0.0) & (ra <= 360.0) & (dec >= -90.0) & (dec <= 90.0))


cdef inline void unit_vector(double ra, double dec, double* point) noexcept nogil:
    cdef double cos_dec = cos(dec * DEG)
    point[0] = cos_dec * cos(ra * DEG)
    point[1] = cos_dec * sin(ra * DEG)
    point[2] = sin(dec * DEG)


cdef inline double dot(const double* point, const double[:, ::1] rows, Py_ssize_t row) noexcept nogil:
    return point[0] * rows[row, 0] + point[1] * rows[row, 1] + point[2] * rows[row, 2]


cdef object start(const double[::1] ra, const double[::1] dec, str kernel):
    """Check the lengths and return the output array (uint8, viewed as bool at the end)."""
    if ra.shape[0] != dec.shape[0]:
        raise ValueError(f"{kernel}: ra and dec differ in length")
    return np.empty(ra.shape[0], dtype=np.uint8)


cdef object finish(object out, bint saw_invalid, const double[::1] ra, const double[::1] dec):
    """The answer as a bool array, or InvalidCoordinatesError naming the first invalid row."""
    cdef Py_ssize_t i
    if saw_invalid:
        for i in range(ra.shape[0]):
            if invalid(ra[i], dec[i]):
                raise invalid_position_error(np.asarray(ra), np.asarray(dec), i)
    return out.view(np.bool_)


def points_in_circle(const double[::1] ra, const double[::1] dec,
                     double centre_x, double centre_y, double centre_z, double chord2_limit):
    """Squared chord from the centre (unit vector) <= ``chord2_limit``."""
    out = start(ra, dec, "points_in_circle")
    cdef unsigned char[::1] result = out
    cdef Py_ssize_t i
    cdef bint saw_invalid = False
    cdef double point[3]
    cdef double dx, dy, dz
    with nogil:
        for i in range(ra.shape[0]):
            saw_invalid |= invalid(ra[i], dec[i])
            unit_vector(ra[i], dec[i], point)
            dx = point[0] - centre_x
            dy = point[1] - centre_y
            dz = point[2] - centre_z
            result[i] = dx * dx + dy * dy + dz * dz <= chord2_limit
    return finish(out, saw_invalid, ra, dec)


def points_in_box(const double[::1] ra, const double[::1] dec, double ra_low, double ra_high,
                  bint full_ra, double dec_min, double dec_max):
    """Dec in [dec_min, dec_max] and RA in [ra_low, ra_high] (both in [0, 360); wrapping
    through 0 when ra_low > ra_high); poles inside the Dec range are inside whatever their RA."""
    out = start(ra, dec, "points_in_box")
    cdef unsigned char[::1] result = out
    cdef Py_ssize_t i
    cdef bint saw_invalid = False
    cdef double point_ra
    cdef bint wraps = ra_low > ra_high, in_ra
    with nogil:
        for i in range(ra.shape[0]):
            saw_invalid |= invalid(ra[i], dec[i])
            # Bitwise operators rather than branches: random positions defeat branch prediction.
            point_ra = 0.0 if ra[i] == 360.0 else ra[i]
            if wraps:
                in_ra = (point_ra >= ra_low) | (point_ra <= ra_high)
            else:
                in_ra = (point_ra >= ra_low) & (point_ra <= ra_high)
            result[i] = ((dec[i] >= dec_min) & (dec[i] <= dec_max)
                         & (full_ra | (fabs(dec[i]) == 90.0) | in_ra))
    return finish(out, saw_invalid, ra, dec)


def points_in_polygon(const double[::1] ra, const double[::1] dec, const double[:, ::1] axes,
                      const double[:, ::1] normals, const double[:, ::1] from_vertex,
                      const double[:, ::1] to_vertex, const double[::1] plane_x,
                      const double[::1] plane_y, double tolerance):
    """Inside when on the near side of ``axes[0]`` and either within ``tolerance`` of an edge or
    of odd crossing parity in the gnomonic plane spanned by ``axes[1]``, ``axes[2]``."""
    out = start(ra, dec, "points_in_polygon")
    cdef unsigned char[::1] result = out
    cdef Py_ssize_t i, edge, following, count = normals.shape[0]
    cdef bint saw_invalid = False
    cdef double point[3]
    cdef double towards, x, y, x_crossing
    cdef bint inside
    with nogil:
        for i in range(ra.shape[0]):
            saw_invalid |= invalid(ra[i], dec[i])
            unit_vector(ra[i], dec[i], point)
            towards = dot(point, axes, 0)
            if not towards > 0.0:
                result[i] = False
                continue
            inside = False
            for edge in range(count):
                if (fabs(dot(point, normals, edge)) <= tolerance
                        and dot(point, from_vertex, edge) >= -tolerance
                        and dot(point, to_vertex, edge) >= -tolerance):
                    inside = True
                    break
            if not inside:
                x = dot(point, axes, 1) / towards
                y = dot(point, axes, 2) / towards
                for edge in range(count):
                    following = edge + 1 if edge + 1 < count else 0
                    if (plane_y[edge] > y) != (plane_y[following] > y):
                        x_crossing = plane_x[edge] + (y - plane_y[edge]) * (
                            plane_x[following] - plane_x[edge]) / (plane_y[following] - plane_y[edge])
                        if x < x_crossing:
                            inside = not inside
            result[i] = inside
    return finish(out, saw_invalid, ra, dec)


def points_in_ellipse(const double[::1] ra, const double[::1] dec, const double[:, ::1] axes,
                      double inverse_sin_a, double inverse_sin_b):
    """On the near side of ``axes[0]`` (the centre) and (u / sin a)^2 + (v / sin b)^2 <= 1, u and
    v being the components along ``axes[1]`` (major axis) and ``axes[2]`` (minor axis)."""
    out = start(ra, dec, "points_in_ellipse")
    cdef unsigned char[::1] result = out
    cdef Py_ssize_t i
    cdef bint saw_invalid = False
    cdef double point[3]
    cdef double u, v
    with nogil:
        for i in range(ra.shape[0]):
            saw_invalid |= invalid(ra[i], dec[i])
            unit_vector(ra[i], dec[i], point)
            u = dot(point, axes, 1) * inverse_sin_a
            v = dot(point, axes, 2) * inverse_sin_b
            result[i] = dot(point, axes, 0) > 0.0 and u * u + v * v <= 1.0
    return finish(out, saw_invalid, ra, dec)
