"""Polygon vertex lists as scisql reads them (qserv.sql.adql.scisql_vertices): the same region as
the plain list, checked point by point with the Polygon of the plain vertices."""

import numpy as np

from qserv.sphere import Polygon
from qserv.sql.adql import scisql_vertices

SQUARE = [314.8, -5.0, 315.2, -5.0, 315.2, -4.6, 314.8, -4.6]


def test_closing_vertex_and_ra_wrap_give_the_same_vertices():
    plain = (SQUARE[0::2], SQUARE[1::2])
    assert scisql_vertices(SQUARE) == plain
    assert scisql_vertices(SQUARE + SQUARE[:2]) == plain
    assert scisql_vertices([v - 360 if i % 2 == 0 else v for i, v in enumerate(SQUARE)]) == plain
    assert scisql_vertices(SQUARE[:2] + SQUARE) == plain  # a repeated first vertex
    assert scisql_vertices([720.5, 1, 10, 1, 10, 2]) == ([0.5, 10, 10], [1, 1, 2])


def test_regions_agree_point_by_point():
    rng = np.random.default_rng(5)
    ra, dec = rng.uniform(314.5, 315.5, 2000), rng.uniform(-5.3, -4.3, 2000)
    expected = Polygon(SQUARE[0::2], SQUARE[1::2]).contains(ra, dec)
    closed = [v - 360 if i % 2 == 0 else v for i, v in enumerate(SQUARE + SQUARE[:2])]
    assert expected.any() and not expected.all()
    assert (Polygon(*scisql_vertices(closed)).contains(ra, dec) == expected).all()
