# cython: language_level=3
"""Angular separation kernel (reference: qserv.sphere.angles.angular_separation_deg)."""

import numpy as np
cimport numpy as cnp
from libc.math cimport atan2, cos, sin, sqrt, M_PI

cnp.import_array()

cdef double DEG = M_PI / 180.0


def angular_separation_deg(const double[::1] ra1, const double[::1] dec1,
                           const double[::1] ra2, const double[::1] dec2):
    """Great-circle distance in degrees between two equal-length arrays of positions."""
    cdef Py_ssize_t n = ra1.shape[0], i
    if dec1.shape[0] != n or ra2.shape[0] != n or dec2.shape[0] != n:
        raise ValueError("angular_separation_deg: arrays differ in length")
    out = np.empty(n, dtype=np.float64)
    cdef double[::1] result = out
    cdef double dra, sd1, cd1, sd2, cd2, a, b, dot
    with nogil:
        for i in range(n):
            dra = (ra2[i] - ra1[i]) * DEG
            sd1 = sin(dec1[i] * DEG)
            cd1 = cos(dec1[i] * DEG)
            sd2 = sin(dec2[i] * DEG)
            cd2 = cos(dec2[i] * DEG)
            a = cd2 * sin(dra)
            b = cd1 * sd2 - sd1 * cd2 * cos(dra)
            dot = sd1 * sd2 + cd1 * cd2 * cos(dra)
            result[i] = atan2(sqrt(a * a + b * b), dot) / DEG
    return out
