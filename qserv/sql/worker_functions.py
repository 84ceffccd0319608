"""The SQL functions every worker gets, so rewritten per-chunk queries can evaluate scisql functions
and ADQL geometry row by row, with the answers of the regions in ``qserv.sphere``.

``function_sql(backend)`` returns the statements defining them: DuckDB macros, or PostgreSQL
``LANGUAGE sql IMMUTABLE PARALLEL SAFE`` functions with a single-expression body (not STRICT), which
the planner inlines into the calling query. ``install(worker)`` runs them; both are idempotent.
Names are defined in lower case, so calls written as in Qserv (``scisql_angSep``) resolve unquoted
on both backends. All angles are in degrees; a NULL argument gives NULL.

- ``scisql_angSep(ra1, dec1, ra2, dec2)`` and ``qserv_distance_deg`` (ADQL DISTANCE): great-circle
  distance, atan2 form as ``qserv.sphere.angles.angular_separation_deg`` (precise for tiny angles).
- ``scisql_s2PtInCircle(ra, dec, ra_c, dec_c, radius)``, ``scisql_s2PtInBox(ra, dec, ra_min, dec_min,
  ra_max, dec_max)``, ``scisql_s2PtInEllipse(ra, dec, ra_c, dec_c, semi_major_arcsec,
  semi_minor_arcsec, position_angle_deg)``: 1 inside (boundary included), 0 outside, with the
  semantics of ``Circle``, ``Box`` and ``Ellipse``. Region parameters are not validated here: the
  planner builds the ``qserv.sphere`` region from literal geometry first, which refuses bad ones.
- Polygons have any number of vertices, so they are not a function: ``polygon_condition_sql``
  writes the SQL condition for a ``Polygon`` with literal vertices (convex or not).
- Photometry, as scisql defines it: ``scisql_fluxToAbMag(flux)`` takes a flux density in
  erg/s/cm^2/Hz (-2.5 log10(flux) - 48.6), ``scisql_nanojanskyToAbMag(flux)`` one in nJy
  (-2.5 log10(flux) + 31.4, as in Rubin's DP0.2/DP1 catalogs); ``scisql_fluxToAbMagSigma`` and
  ``scisql_nanojanskyToAbMagSigma(flux, sigma)`` give 2.5 / ln(10) * sigma / flux (the same in any
  unit); ``scisql_abMagToNanojansky(mag)`` inverts the nJy conversion. As in scisql, the result is
  NULL for a flux that is not finite and positive, a sigma that is not finite and non-negative, and
  (here) for a magnitude whose flux would overflow or underflow a double.
"""

import hashlib
import math
import sys

from qserv.errors import UserError
from qserv.sphere.polygon import DEGENERATE_RAD, Polygon

BACKENDS = ("duckdb", "postgres")
INFINITY = "CAST('Infinity' AS FLOAT8)"  # NaN compares above it on both backends
NJY_AB_ZERO_POINT = 31.4  # AB magnitude of 1 nJy (scisql's constant)
CGS_AB_ZERO_POINT = -48.6  # AB magnitude of 1 erg/s/cm^2/Hz


def _literal(value):
    """A float as a SQL literal that both backends read as the same double (exponent form)."""
    text = f"{float(value):.17e}"
    return f"({text})" if text.startswith("-") else text


def _null_guarded(params, condition):
    """1/0 for ``condition``, NULL when any parameter is NULL (AND/OR alone could answer)."""
    any_null = " OR ".join(f"{param} IS NULL" for param in params)
    return f"CASE WHEN {any_null} THEN NULL WHEN {condition} THEN 1 ELSE 0 END"


def _ang_sep(ra1, dec1, ra2, dec2):
    d1, d2, dra = f"radians({dec1})", f"radians({dec2})", f"radians({ra2} - {ra1})"
    cross_a = f"cos({d2}) * sin({dra})"
    cross_b = f"(cos({d1}) * sin({d2}) - sin({d1}) * cos({d2}) * cos({dra}))"
    dot = f"(sin({d1}) * sin({d2}) + cos({d1}) * cos({d2}) * cos({dra}))"
    return f"degrees(atan2(sqrt(power({cross_a}, 2) + power({cross_b}, 2)), {dot}))"


def _in_circle(ra, dec, ra_c, dec_c, radius):
    # Haversines: sin^2(distance / 2) against sin^2(radius / 2), precise for tiny circles.
    haversine = (f"power(sin(radians({dec} - {dec_c}) / 2), 2) + cos(radians({dec})) "
                 f"* cos(radians({dec_c})) * power(sin(radians({ra} - {ra_c}) / 2), 2)")
    limit = f"power(sin(radians(least({radius}, 180)) / 2), 2)"
    return f"{radius} >= 0 AND {haversine} <= {limit}"


def _in_box(ra, dec, ra_min, dec_min, ra_max, dec_max):
    def wrapped(value):  # RA 360 is the meridian of RA 0
        return f"(CASE WHEN {value} = 360 THEN 0 ELSE {value} END)"

    point, low, high = wrapped(ra), wrapped(ra_min), wrapped(ra_max)
    in_ra = (f"({ra_max} - {ra_min} = 360"
             f" OR ({low} <= {high} AND {point} >= {low} AND {point} <= {high})"
             f" OR ({low} > {high} AND ({point} >= {low} OR {point} <= {high})))")
    return f"{dec} >= {dec_min} AND {dec} <= {dec_max} AND ({in_ra} OR abs({dec}) = 90)"


def _in_ellipse(ra, dec, ra_c, dec_c, semi_major, semi_minor, angle):
    # Orthographic projection on the tangent plane at the centre (see qserv.sphere.ellipse), with
    # (u / sin a)^2 + (v / sin b)^2 <= 1 multiplied out so that no argument can divide by zero.
    d, c, dra, pa = f"radians({dec})", f"radians({dec_c})", f"radians({ra} - {ra_c})", f"radians({angle})"
    towards = f"cos({d}) * cos({c}) * cos({dra}) + sin({d}) * sin({c})"
    north = f"(cos({c}) * sin({d}) - sin({c}) * cos({d}) * cos({dra}))"
    east = f"(cos({d}) * sin({dra}))"
    u = f"(cos({pa}) * {north} + sin({pa}) * {east})"
    v = f"(cos({pa}) * {east} - sin({pa}) * {north})"
    sin_a, sin_b = (f"sin(radians({axis} / 3600))" for axis in (semi_major, semi_minor))
    return (f"{towards} > 0 AND power({u} * {sin_b}, 2) + power({v} * {sin_a}, 2)"
            f" <= power({sin_a} * {sin_b}, 2)")


def _positive(value):
    return f"{value} > 0 AND {value} < {INFINITY}"


def _magnitude(zero_point):
    def body(flux):
        return f"CASE WHEN {_positive(flux)} THEN -2.5 * log10({flux}) + {_literal(zero_point)} END"
    return body


def _magnitude_sigma(flux, sigma):
    valid = f"{_positive(flux)} AND {sigma} >= 0 AND {sigma} < {INFINITY}"
    return f"CASE WHEN {valid} THEN {_literal(2.5 / math.log(10.0))} * {sigma} / {flux} END"


# Magnitudes whose flux in nJy is a finite, normal double (PostgreSQL raises on over/underflow).
_MAG_LOW = NJY_AB_ZERO_POINT - 2.5 * math.log10(sys.float_info.max) + 1e-6
_MAG_HIGH = NJY_AB_ZERO_POINT - 2.5 * math.log10(sys.float_info.min) - 1e-6


def _nanojansky(mag):
    in_range = f"{mag} > {_literal(_MAG_LOW)} AND {mag} < {_literal(_MAG_HIGH)}"
    return f"CASE WHEN {in_range} THEN power(10, ({_literal(NJY_AB_ZERO_POINT)} - {mag}) / 2.5) END"


def _predicate(condition):
    return lambda *params: _null_guarded(params, condition(*params))


# (name as users write it, parameter names, PostgreSQL return type, body builder)
_FUNCTIONS = (
    ("scisql_angSep", ("ra1_deg", "dec1_deg", "ra2_deg", "dec2_deg"), "FLOAT8", _ang_sep),
    ("qserv_distance_deg", ("ra1_deg", "dec1_deg", "ra2_deg", "dec2_deg"), "FLOAT8", _ang_sep),
    ("scisql_s2PtInCircle", ("ra_deg", "dec_deg", "ra_c_deg", "dec_c_deg", "radius_deg"),
     "INTEGER", _predicate(_in_circle)),
    ("scisql_s2PtInBox", ("ra_deg", "dec_deg", "ra_min_deg", "dec_min_deg", "ra_max_deg",
                          "dec_max_deg"), "INTEGER", _predicate(_in_box)),
    ("scisql_s2PtInEllipse", ("ra_deg", "dec_deg", "ra_c_deg", "dec_c_deg", "semi_major_arcsec",
                              "semi_minor_arcsec", "position_angle_deg"),
     "INTEGER", _predicate(_in_ellipse)),
    ("scisql_fluxToAbMag", ("flux",), "FLOAT8", _magnitude(CGS_AB_ZERO_POINT)),
    ("scisql_fluxToAbMagSigma", ("flux", "flux_sigma"), "FLOAT8", _magnitude_sigma),
    ("scisql_nanojanskyToAbMag", ("flux_njy",), "FLOAT8", _magnitude(NJY_AB_ZERO_POINT)),
    ("scisql_nanojanskyToAbMagSigma", ("flux_njy", "flux_sigma_njy"), "FLOAT8", _magnitude_sigma),
    ("scisql_abMagToNanojansky", ("mag",), "FLOAT8", _nanojansky),
)
FUNCTION_NAMES = tuple(name for name, _, _, _ in _FUNCTIONS)


def _check_backend(backend):
    if backend not in BACKENDS:
        raise UserError(f"unknown worker backend {backend!r} (expected one of {', '.join(BACKENDS)})")


def function_sql(backend):
    """The statements (re)defining every worker function on ``backend`` ("duckdb" or "postgres")."""
    _check_backend(backend)
    statements = []
    for name, params, return_type, body in _FUNCTIONS:
        expression = body(*params)
        if backend == "duckdb":
            statements.append(f"CREATE OR REPLACE MACRO {name.lower()}({', '.join(params)}) AS {expression}")
        else:
            typed = ", ".join(f"{param} FLOAT8" for param in params)
            statements.append(
                f"CREATE OR REPLACE FUNCTION {name.lower()}({typed}) RETURNS {return_type} "
                f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {expression} $$"
            )
    return statements


VERSION_FUNCTION = "qserv_functions_version"


def _installed_version(worker):
    """What VERSION_FUNCTION says on ``worker`` (PostgreSQL: its source text), None if undefined."""
    from qserv.errors import WorkerQueryError

    if worker.backend == "duckdb":  # calling it takes 0.5 ms, listing duckdb_functions() 10 ms
        try:
            return worker.query(f"SELECT {VERSION_FUNCTION}() AS v").column("v")[0].as_py()
        except WorkerQueryError:
            return None
    found = worker.query(f"SELECT prosrc AS v FROM pg_proc WHERE proname = '{VERSION_FUNCTION}' "
                         "AND pg_function_is_visible(oid)").column("v").to_pylist()
    return found[0] if found else None


def install(worker):
    """Define (or redefine) every worker function on ``worker`` (a ``qserv.exec.worker.Worker``),
    unless this very set is there: VERSION_FUNCTION returns the fingerprint of their SQL, so a
    process that only queries writes nothing to the workers."""
    statements = function_sql(worker.backend)
    fingerprint = hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]
    if fingerprint in (_installed_version(worker) or ""):
        return
    if worker.backend == "duckdb":
        statements.append(f"CREATE OR REPLACE MACRO {VERSION_FUNCTION}() AS '{fingerprint}'")
    else:
        statements.append(f"CREATE OR REPLACE FUNCTION {VERSION_FUNCTION}() RETURNS text LANGUAGE sql "
                          f"IMMUTABLE AS $$ SELECT '{fingerprint}'::text $$")
    for statement in statements:
        worker.execute(statement)


def polygon_condition_sql(ra_sql, dec_sql, polygon, backend):
    """A SQL boolean expression: is the point (``ra_sql``, ``dec_sql``: SQL expressions in degrees)
    inside ``polygon`` (a ``qserv.sphere.polygon.Polygon``), boundary included?

    The rule is ``Polygon.contains_reference``: on the side of the polygon's hemisphere, and on an
    edge or with an odd count of ray crossings in the gnomonic projection. Crossing tests are
    multiplied by the (positive) projection denominator, so nothing divides. The text is the same
    on both backends. A NULL position gives NULL or FALSE, never TRUE.
    """
    _check_backend(backend)
    if not isinstance(polygon, Polygon):
        raise TypeError(f"expected a qserv.sphere.polygon.Polygon, got {polygon!r}")
    cos_dec, sin_dec = f"cos(radians({dec_sql}))", f"sin(radians({dec_sql}))"
    point = (f"{cos_dec} * cos(radians({ra_sql}))", f"{cos_dec} * sin(radians({ra_sql}))", sin_dec)

    def dot(vector):
        return "(" + " + ".join(f"{axis} * {_literal(c)}" for axis, c in zip(point, vector)) + ")"

    # The polygon's own projection and edge planes (those its kernel receives), so the SQL
    # answers exactly as the region does.
    frame = polygon.frame()
    towards, along_x, along_y = (dot(axis) for axis in frame.axes)
    tolerance = _literal(DEGENERATE_RAD)
    on_edge = " OR ".join(
        f"(abs({dot(normal)}) <= {tolerance} AND {dot(start)} >= -{tolerance}"
        f" AND {dot(end)} >= -{tolerance})"
        for normal, start, end in zip(frame.normals, frame.from_vertex, frame.to_vertex)
    )
    xs, ys = frame.plane_x, frame.plane_y
    crossings = []
    for i in range(len(xs)):
        j = (i + 1) % len(xs)
        if ys[i] == ys[j]:  # a horizontal edge never straddles the ray
            continue
        y_start, y_end, x_start = _literal(ys[i]), _literal(ys[j]), _literal(xs[i])
        slope = _literal((xs[j] - xs[i]) / (ys[j] - ys[i]))
        crossings.append(
            f"CAST((({y_start} * {towards} > {along_y}) <> ({y_end} * {towards} > {along_y}))"
            f" AND {along_x} < {x_start} * {towards} + ({along_y} - {y_start} * {towards}) * {slope}"
            f" AS INTEGER)"
        )
    odd = f"({' + '.join(crossings) or '0'}) % 2 = 1"
    return f"({towards} > 0 AND ({on_edge} OR {odd}))"
