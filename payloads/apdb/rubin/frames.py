"""Arrow rows to what lsst.dax.apdb returns: pandas frames with exactly the schema's columns and
the dtypes ApdbSql gives them, ApdbTableData for replica reads, regions from lsst.sphgeom."""

import pandas
from lsst.dax.apdb import ApdbTableData
from lsst.sphgeom import Circle as SphCircle, ConvexPolygon, LonLat

from qserv.errors import UserError
from qserv.sphere import Circle, Polygon


def to_frame(rows, table_def):
    """A DataFrame of ``rows`` (pyarrow.Table) with ``table_def``'s columns, in order."""
    return pandas.DataFrame({column.name: _series(rows, column) for column in table_def.columns})


def _series(rows, column):
    values = rows[column.name].to_pandas() if rows.num_rows else pandas.Series([], dtype=object)
    return values.astype(column.pandas_type)


def to_region(region):
    """A qserv.sphere region of an lsst.sphgeom Circle or ConvexPolygon."""
    if isinstance(region, SphCircle):
        centre = LonLat(region.getCenter())
        return Circle(centre.getLon().asDegrees(), centre.getLat().asDegrees(),
                      region.getOpeningAngle().asDegrees())
    if isinstance(region, ConvexPolygon):
        corners = [LonLat(vertex) for vertex in region.getVertices()]
        return Polygon([c.getLon().asDegrees() for c in corners], [c.getLat().asDegrees() for c in corners])
    raise UserError(f"regions are lsst.sphgeom Circle or ConvexPolygon, got {type(region).__name__}")


class QservTableData(ApdbTableData):
    """Rows of a replica read with their Felis column types."""

    def __init__(self, rows, column_defs):
        self._column_defs = tuple(column_defs)
        names = [name for name, _ in self._column_defs]
        self._rows = list(zip(*(rows[name].to_pylist() for name in names))) if rows.num_rows else []

    def column_names(self):
        return tuple(name for name, _ in self._column_defs)

    def column_defs(self):
        return self._column_defs

    def rows(self):
        return self._rows
