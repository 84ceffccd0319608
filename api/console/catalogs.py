"""What the console's query page offers for the loaded catalogs: the databases a caller may query
(published ones, or all for an administrator), their spatial tables, and example ADQL queries
(a cone, a crossmatch with an uploaded table, an aggregate) built from them. Pure apart from healpy."""

from dataclasses import dataclass

SPATIAL = ("director",)
CONE_RADIUS_DEG = 1.0
MATCH_RADIUS_ARCSEC = 2.0
BIN_DEG = 30


@dataclass(frozen=True)
class SpatialTable:
    database: str
    name: str
    ra: str
    dec: str
    id: str | None
    chunk_order: int

    @property
    def qualified(self):
        return f"{self.database}.{self.name}"


def spatial_tables(databases, include_unpublished):
    """The director tables of ``databases`` (meta.models.Database rows) a caller may query."""
    found = []
    for database in databases:
        if not (database.published or include_unpublished):
            continue
        for table in sorted(database.tables, key=lambda t: t.name):
            if table.kind in SPATIAL and table.ra_column and table.dec_column:
                found.append(SpatialTable(database.name, table.name, table.ra_column, table.dec_column,
                                          table.id_column, database.chunk_order))
    return found


def examples(table, ra_deg=None, dec_deg=None):
    """[{title, query}] of example ADQL queries over a SpatialTable, centred on (ra_deg, dec_deg)
    (default: the sky's origin)."""
    ra_deg = 0.0 if ra_deg is None else ra_deg
    dec_deg = 0.0 if dec_deg is None else dec_deg
    name, ra, dec = table.qualified, table.ra, table.dec
    ident = table.id or ra
    return [
        {"title": f"Cone of {CONE_RADIUS_DEG:g} deg in {name}",
         "query": f"SELECT TOP 1000 *\nFROM {name}\nWHERE CONTAINS(POINT('ICRS', {ra}, {dec}),\n"
                  f"               CIRCLE('ICRS', {ra_deg:g}, {dec_deg:g}, {CONE_RADIUS_DEG:g})) = 1"},
        {"title": f"Crossmatch an uploaded table (TAP_UPLOAD.mine: ra, dec) with {name}",
         "query": f"SELECT u.ra AS upload_ra, u.dec AS upload_dec, t.{ident},\n"
                  f"       DISTANCE(POINT('ICRS', u.ra, u.dec), POINT('ICRS', t.{ra}, t.{dec}))"
                  f" * 3600 AS sep_arcsec\nFROM TAP_UPLOAD.mine AS u\nJOIN {name} AS t\n"
                  f"  ON 1 = CONTAINS(POINT('ICRS', t.{ra}, t.{dec}),\n"
                  f"                  CIRCLE('ICRS', u.ra, u.dec, {MATCH_RADIUS_ARCSEC / 3600:.6f}))",
         "upload": "mine"},
        {"title": f"Rows of {name} per {BIN_DEG} deg declination band",
         "query": f"SELECT FLOOR({dec} / {BIN_DEG}) * {BIN_DEG} AS dec_band, COUNT(*) AS n\n"
                  f"FROM {name}\nGROUP BY FLOOR({dec} / {BIN_DEG}) * {BIN_DEG}\nORDER BY dec_band"},
    ]


def densest_centre(chunk_rows, chunk_order):
    """(ra_deg, dec_deg) of the centre of the chunk with the most rows (``Engine.chunks`` rows), or
    (None, None) for an empty table."""
    import healpy

    if not chunk_rows:
        return None, None
    chunk = max(chunk_rows, key=lambda row: row[1])[0]
    ra_deg, dec_deg = healpy.pix2ang(healpy.order2nside(chunk_order), chunk, nest=True, lonlat=True)
    return round(float(ra_deg), 3), round(float(dec_deg), 3)


def catalogs_json(tables, centres):
    """The JSON of /console/api/catalogs: each SpatialTable with its examples around its centre."""
    return {"tables": [{"table": t.qualified, "database": t.database, "ra": t.ra, "dec": t.dec, "id": t.id,
                        "chunk_order": t.chunk_order, "examples": examples(t, *centre)}
                       for t, centre in zip(tables, centres)]}
