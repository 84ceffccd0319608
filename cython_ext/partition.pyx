# cython: language_level=3
"""Assignment of points to HEALPix chunks and sub-chunks with overlap membership.

Reference implementation: qserv.sphere.overlap.assign_reference (healpy + numpy); the tests
check that both agree. The HEALPix nested arithmetic here follows the published HEALPix
formulas (Gorski et al. 2005) in the same floating-point order as healpy, so pixel ids agree.

Overlap rule (shared with the reference): a point P is in the overlap of a neighbouring
sub-chunk Q when a corner of Q is within r of P, or when an edge of Q, taken as the great-circle
chord between its corners widened by a bound on how far the true edge strays from the chord,
comes within r of P and, when edges are split (``levels`` > 0, coarse orders), so does one of
the chords of its 2**levels pieces widened by the finer order's bound. Only the 8 neighbours of P's own sub-chunk are candidates, which is
complete because the overlap radius is limited to half the sub-chunk resolution
(qserv.sphere.chunking). Points whose sub-chunk touches a HEALPix base face edge, where
neighbours lie in another face, are flagged for the reference path.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport M_PI, cos, fabs, fmod, sin, sqrt
from libc.stdint cimport int64_t, uint64_t

cnp.import_array()

cdef int64_t NEEDS_REFERENCE = -2

cdef int JRLL[12]
cdef int JPLL[12]
JRLL[:] = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]
JPLL[:] = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7]

cdef double HALF_PI = 0.5 * M_PI
cdef double INV_HALF_PI = 2.0 / M_PI
cdef double DEG_TO_RAD = M_PI / 180.0


cdef uint64_t SPREAD_MASKS[6]
SPREAD_MASKS[:] = [0xFFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF, 0x0F0F0F0F0F0F0F0F,
                   0x3333333333333333, 0x5555555555555555]


cdef inline int64_t spread_bits(int64_t value) noexcept nogil:
    """Move bit k of a 32-bit value to bit 2k (nested pixel bit interleaving)."""
    cdef uint64_t v = (<uint64_t>value) & SPREAD_MASKS[0]
    v = (v | (v << 16)) & SPREAD_MASKS[1]
    v = (v | (v << 8)) & SPREAD_MASKS[2]
    v = (v | (v << 4)) & SPREAD_MASKS[3]
    v = (v | (v << 2)) & SPREAD_MASKS[4]
    v = (v | (v << 1)) & SPREAD_MASKS[5]
    return <int64_t>v


cdef inline int64_t xyf_to_nest(int64_t ix, int64_t iy, int face, int order) noexcept nogil:
    return ((<int64_t>face) << (2 * order)) + spread_bits(ix) + (spread_bits(iy) << 1)


cdef inline int loc_to_xyf(double z, double phi, double sth, bint have_sth, int order,
                           int64_t *ix, int64_t *iy) noexcept nogil:
    """Face number and integer face coordinates of (z = cos theta, phi) at ``order``."""
    cdef int64_t nside = (<int64_t>1) << order
    cdef double za = fabs(z)
    cdef double tt = phi * INV_HALF_PI
    cdef double temp1, temp2, tp, tmp
    cdef int64_t jp, jm, ifp, ifm
    cdef int face, ntt
    if tt < 0.0 or tt >= 4.0:
        tt = fmod(tt, 4.0)
        if tt < 0.0:
            tt += 4.0
    if za <= 2.0 / 3.0:
        temp1 = nside * (0.5 + tt)
        temp2 = nside * (z * 0.75)
        jp = <int64_t>(temp1 - temp2)
        jm = <int64_t>(temp1 + temp2)
        ifp = jp >> order
        ifm = jm >> order
        if ifp == ifm:
            face = <int>(ifp | 4)
        elif ifp < ifm:
            face = <int>ifp
        else:
            face = <int>(ifm + 8)
        ix[0] = jm & (nside - 1)
        iy[0] = nside - (jp & (nside - 1)) - 1
        return face
    ntt = <int>tt
    if ntt > 3:
        ntt = 3
    tp = tt - ntt
    if za < 0.99 or not have_sth:
        tmp = nside * sqrt(3.0 * (1.0 - za))
    else:
        tmp = nside * sth / sqrt((1.0 + za) / 3.0)
    jp = <int64_t>(tp * tmp)
    jm = <int64_t>((1.0 - tp) * tmp)
    if jp > nside - 1:
        jp = nside - 1
    if jm > nside - 1:
        jm = nside - 1
    if z >= 0:
        ix[0] = nside - jm - 1
        iy[0] = nside - jp - 1
        return ntt
    ix[0] = jp
    iy[0] = jm
    return ntt + 8


cdef inline void xyf_to_vector(double x, double y, int face, double *v) noexcept nogil:
    """Unit vector (v[0:3]) and sin(theta) (v[3]) of normalised face coordinates (x, y in
    [0, 1]) of a base face."""
    cdef double jr = JRLL[face] - x - y
    cdef double nr, z, sth, tmp, phi
    if jr < 1.0:
        nr = jr
        tmp = nr * nr / 3.0
        z = 1.0 - tmp
        sth = sqrt(tmp * (2.0 - tmp))
    elif jr > 3.0:
        nr = 4.0 - jr
        tmp = nr * nr / 3.0
        z = tmp - 1.0
        sth = sqrt(tmp * (2.0 - tmp))
    else:
        nr = 1.0
        z = (2.0 - jr) * 2.0 / 3.0
        sth = sqrt((1.0 - z) * (1.0 + z))
    tmp = JPLL[face] * nr + x - y
    if tmp < 0.0:
        tmp += 8.0
    if tmp >= 8.0:
        tmp -= 8.0
    phi = 0.0 if nr < 1e-15 else (0.5 * HALF_PI * tmp) / nr
    v[0] = sth * cos(phi)
    v[1] = sth * sin(phi)
    v[2] = z
    v[3] = sth


cdef inline bint near_corner(const double *p, const double *c, double cos_r) noexcept nogil:
    return p[0] * c[0] + p[1] * c[1] + p[2] * c[2] >= cos_r


cdef inline bint near_edge(const double *p, const double *a, const double *b,
                           double sin_r, double cos_r, double pixrad2, double edge_factor,
                           double pixrad) noexcept nogil:
    """Is P within r of the pixel edge from corner a to corner b? The true edge lies within
    ``widening`` of the great-circle chord between its corners, so P is tested against the
    chord (its arc, or its end corners) at distance r + widening. Corners carry sin(theta) in [3].
    """
    cdef double n0 = a[1] * b[2] - a[2] * b[1]
    cdef double n1 = a[2] * b[0] - a[0] * b[2]
    cdef double n2 = a[0] * b[1] - a[1] * b[0]
    cdef double s_min = a[3] if a[3] < b[3] else b[3]
    if s_min < pixrad:
        s_min = pixrad
    cdef double widening = edge_factor * pixrad2 / s_min
    # sin(r + w) <= sin(r) + w: beyond this height the whole great circle is too far.
    cdef double t = p[0] * n0 + p[1] * n1 + p[2] * n2
    if t * t > (sin_r + widening) * (sin_r + widening) * (n0 * n0 + n1 * n1 + n2 * n2):
        return False
    # Along the arc: P . (n x a) >= 0 and P . (b x n) >= 0.
    if ((p[0] * (n1 * a[2] - n2 * a[1]) + p[1] * (n2 * a[0] - n0 * a[2])
            + p[2] * (n0 * a[1] - n1 * a[0])) >= 0.0
            and (p[0] * (b[1] * n2 - b[2] * n1) + p[1] * (b[2] * n0 - b[0] * n2)
                 + p[2] * (b[0] * n1 - b[1] * n0)) >= 0.0):
        return True
    # Beyond an end the nearest chord point is a corner: compare with cos(r + w), which is at
    # least cos(r) (1 - w^2 / 2) - sin(r) w.
    cdef double cos_widened = cos_r * (1.0 - 0.5 * widening * widening) - sin_r * widening
    return near_corner(p, a, cos_widened) or near_corner(p, b, cos_widened)


cdef struct EdgeRule:
    double sin_r, cos_r, pixrad, pixrad2, fine_pixrad, fine_pixrad2, edge_factor
    int levels


cdef bint near_grid_edge(const double *p, const double *a, const double *b, int64_t ix, int64_t iy,
                         int a0, int b0, int a1, int b1, int64_t nside, int face,
                         const EdgeRule *rule) noexcept nogil:
    """Is P within r of the edge from corner (a0, b0) to corner (a1, b1) of the 4x4 corner grid
    around pixel (ix, iy) (vectors a and b)? Near its chord, and, when edges are split, near the
    chord of one of its 2**levels pieces (edges of the pixels ``levels`` orders finer)."""
    if not near_edge(p, a, b, rule.sin_r, rule.cos_r, rule.pixrad2, rule.edge_factor, rule.pixrad):
        return False
    if rule.levels == 0:
        return True
    cdef int64_t pieces = (<int64_t>1) << rule.levels
    cdef double fine_nside = <double>(nside * pieces)
    cdef int64_t x0 = (ix - 1 + a0) * pieces, y0 = (iy - 1 + b0) * pieces, j
    cdef double start[4], stop[4]
    cdef int k
    for k in range(4):
        start[k] = a[k]
    for j in range(1, pieces + 1):
        if j == pieces:
            for k in range(4):
                stop[k] = b[k]
        else:
            xyf_to_vector((x0 + j * (a1 - a0)) / fine_nside, (y0 + j * (b1 - b0)) / fine_nside, face, stop)
        if near_edge(p, start, stop, rule.sin_r, rule.cos_r, rule.fine_pixrad2, rule.edge_factor,
                     rule.fine_pixrad):
            return True
        for k in range(4):
            start[k] = stop[k]
    return False


cdef inline void corner(int64_t ix, int64_t iy, int a, int b, int64_t nside, int face,
                        double *v) noexcept nogil:
    """Corner (a, b) of the 4x4 corner grid around pixel (ix, iy): face coords (ix-1+a, iy-1+b)."""
    xyf_to_vector(<double>(ix - 1 + a) / nside, <double>(iy - 1 + b) / nside, face, v)


cdef void overlap_neighbours(const double *p, int face, int64_t ix, int64_t iy, int64_t nside,
                             int order, const EdgeRule *rule, int64_t[::1] out) noexcept nogil:
    """Neighbouring pixels (same face) whose overlap holds P, written to ``out``.

    Only features touching the own pixel's corners can be within r: the outer boundary of the
    3x3 block is shared with pixels at least 0.68 resolutions away (see chunking.py), and r is
    at most half a resolution. Those features are the 4 own corners (c11 c21 c12 c22), the 4
    own edges and the 8 "spoke" edges leaving the own corners between two neighbours.
    """
    cdef double c11[4], c21[4], c12[4], c22[4]
    cdef double c01[4], c10[4], c31[4], c20[4], c02[4], c13[4], c32[4], c23[4]
    corner(ix, iy, 1, 1, nside, face, c11)
    corner(ix, iy, 2, 1, nside, face, c21)
    corner(ix, iy, 1, 2, nside, face, c12)
    corner(ix, iy, 2, 2, nside, face, c22)
    cdef bint k11 = near_corner(p, c11, rule.cos_r)
    cdef bint k21 = near_corner(p, c21, rule.cos_r)
    cdef bint k12 = near_corner(p, c12, rule.cos_r)
    cdef bint k22 = near_corner(p, c22, rule.cos_r)
    cdef bint bottom = near_grid_edge(p, c11, c21, ix, iy, 1, 1, 2, 1, nside, face, rule)
    cdef bint top = near_grid_edge(p, c12, c22, ix, iy, 1, 2, 2, 2, nside, face, rule)
    cdef bint left = near_grid_edge(p, c11, c12, ix, iy, 1, 1, 1, 2, nside, face, rule)
    cdef bint right = near_grid_edge(p, c21, c22, ix, iy, 2, 1, 2, 2, nside, face, rule)
    if not (k11 or k21 or k12 or k22 or bottom or top or left or right):
        return  # farther than r from the own pixel's boundary: no overlap at all
    if ix == 0 or iy == 0 or ix == nside - 1 or iy == nside - 1:
        out[0] = NEEDS_REFERENCE  # neighbours in another base face: the caller's reference path
        return
    corner(ix, iy, 0, 1, nside, face, c01)
    corner(ix, iy, 1, 0, nside, face, c10)
    corner(ix, iy, 3, 1, nside, face, c31)
    corner(ix, iy, 2, 0, nside, face, c20)
    corner(ix, iy, 0, 2, nside, face, c02)
    corner(ix, iy, 1, 3, nside, face, c13)
    corner(ix, iy, 3, 2, nside, face, c32)
    corner(ix, iy, 2, 3, nside, face, c23)
    cdef bint s11w = near_grid_edge(p, c11, c01, ix, iy, 1, 1, 0, 1, nside, face, rule)
    cdef bint s11s = near_grid_edge(p, c11, c10, ix, iy, 1, 1, 1, 0, nside, face, rule)
    cdef bint s21e = near_grid_edge(p, c21, c31, ix, iy, 2, 1, 3, 1, nside, face, rule)
    cdef bint s21s = near_grid_edge(p, c21, c20, ix, iy, 2, 1, 2, 0, nside, face, rule)
    cdef bint s12w = near_grid_edge(p, c12, c02, ix, iy, 1, 2, 0, 2, nside, face, rule)
    cdef bint s12n = near_grid_edge(p, c12, c13, ix, iy, 1, 2, 1, 3, nside, face, rule)
    cdef bint s22e = near_grid_edge(p, c22, c32, ix, iy, 2, 2, 3, 2, nside, face, rule)
    cdef bint s22n = near_grid_edge(p, c22, c23, ix, iy, 2, 2, 2, 3, nside, face, rule)
    cdef int slot = 0
    if k11 or s11w or s11s:
        out[slot] = xyf_to_nest(ix - 1, iy - 1, face, order); slot += 1
    if bottom or k11 or k21 or s11s or s21s:
        out[slot] = xyf_to_nest(ix, iy - 1, face, order); slot += 1
    if k21 or s21e or s21s:
        out[slot] = xyf_to_nest(ix + 1, iy - 1, face, order); slot += 1
    if left or k11 or k12 or s11w or s12w:
        out[slot] = xyf_to_nest(ix - 1, iy, face, order); slot += 1
    if right or k21 or k22 or s21e or s22e:
        out[slot] = xyf_to_nest(ix + 1, iy, face, order); slot += 1
    if k12 or s12w or s12n:
        out[slot] = xyf_to_nest(ix - 1, iy + 1, face, order); slot += 1
    if top or k12 or k22 or s12n or s22n:
        out[slot] = xyf_to_nest(ix, iy + 1, face, order); slot += 1
    if k22 or s22e or s22n:
        out[slot] = xyf_to_nest(ix + 1, iy + 1, face, order); slot += 1


cdef int64_t assign_range(const double[::1] ra, const double[::1] dec, int chunk_order,
                          int subchunk_order, double overlap_rad, double pixrad,
                          double edge_factor, int levels, double fine_pixrad, int64_t[::1] chunk, int64_t[::1] subchunk,
                          int64_t[:, ::1] overlap, Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """Assign points [start, stop); return the first invalid index, or -1."""
    cdef int64_t nside = (<int64_t>1) << subchunk_order
    cdef int shift = 2 * (subchunk_order - chunk_order)
    cdef EdgeRule rule
    rule.sin_r = sin(overlap_rad)
    rule.cos_r = cos(overlap_rad) - 1e-15
    rule.pixrad = pixrad
    rule.pixrad2 = pixrad * pixrad
    rule.fine_pixrad = fine_pixrad
    rule.fine_pixrad2 = fine_pixrad * fine_pixrad
    rule.edge_factor = edge_factor
    rule.levels = levels
    cdef double theta, z, sth, phi
    cdef double p[3]
    cdef int64_t ix, iy, pix
    cdef int face, k
    cdef bint have_sth
    cdef Py_ssize_t i
    for i in range(start, stop):
        if not (ra[i] >= 0.0 and ra[i] <= 360.0 and dec[i] >= -90.0 and dec[i] <= 90.0):
            return i
        theta = HALF_PI - dec[i] * DEG_TO_RAD
        phi = ra[i] * DEG_TO_RAD
        z = cos(theta)
        sth = sin(theta)
        have_sth = theta < 0.01 or theta > 3.14159 - 0.01
        face = loc_to_xyf(z, phi, sth, have_sth, subchunk_order, &ix, &iy)
        pix = xyf_to_nest(ix, iy, face, subchunk_order)
        subchunk[i] = pix
        chunk[i] = pix >> shift
        for k in range(8):
            overlap[i, k] = -1
        if overlap_rad <= 0.0:
            continue
        p[0] = sth * cos(phi)
        p[1] = sth * sin(phi)
        p[2] = z
        overlap_neighbours(p, face, ix, iy, nside, subchunk_order, &rule, overlap[i])
    return -1


def assign_points(const double[::1] ra, const double[::1] dec, int chunk_order,
                  int subchunk_order, double overlap_rad, double pixrad, double edge_factor,
                  int levels, double fine_pixrad,
                  int64_t[::1] chunk, int64_t[::1] subchunk, int64_t[:, ::1] overlap):
    """Fill chunk, subchunk (N,) and overlap (N, 8) for points in degrees.

    overlap[i] lists the neighbouring sub-chunks whose overlap holds point i, padded with -1;
    overlap[i, 0] == -2 marks a point the caller must assign with the reference path.
    Returns the index of the first invalid position (NaN or out of range), or -1.
    """
    cdef Py_ssize_t n = ra.shape[0]
    if dec.shape[0] != n or chunk.shape[0] != n or subchunk.shape[0] != n or overlap.shape[0] != n:
        raise ValueError("assign_points: arrays differ in length")
    if overlap.shape[1] != 8:
        raise ValueError("assign_points: overlap must have 8 columns")
    cdef int64_t bad
    with nogil:
        bad = assign_range(ra, dec, chunk_order, subchunk_order, overlap_rad, pixrad,
                           edge_factor, levels, fine_pixrad, chunk, subchunk, overlap, 0, n)
    return bad


def collect_overlap(const int64_t[:, ::1] overlap, int64_t offset):
    """Flatten an (N, 8) overlap table into (point index + offset, sub-chunk) pairs, skipping
    -1 padding and the -2 marker of points left to the reference path."""
    cdef Py_ssize_t n = overlap.shape[0], i, k, count = 0
    with nogil:
        for i in range(n):
            for k in range(overlap.shape[1]):
                if overlap[i, k] >= 0:
                    count += 1
    points_array = np.empty(count, dtype=np.int64)
    subchunks_array = np.empty(count, dtype=np.int64)
    cdef int64_t[::1] points = points_array
    cdef int64_t[::1] subchunks = subchunks_array
    cdef Py_ssize_t j = 0
    with nogil:
        for i in range(n):
            for k in range(overlap.shape[1]):
                if overlap[i, k] >= 0:
                    points[j] = i + offset
                    subchunks[j] = overlap[i, k]
                    j += 1
    return points_array, subchunks_array
