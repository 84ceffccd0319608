"""Pure spherical maths (no I/O): HEALPix chunking, regions, coverage, overlap assignment."""

from qserv.sphere.angles import angular_separation_deg, validate_positions
from qserv.sphere.box import Box
from qserv.sphere.chunking import ChunkGrid, max_overlap_arcsec
from qserv.sphere.circle import Circle
from qserv.sphere.coverage import chunk_and_subchunk_coverage, coverage
from qserv.sphere.ellipse import Ellipse
from qserv.sphere.overlap import PointAssignment, assign_points, assign_reference
from qserv.sphere.polygon import Polygon

__all__ = [
    "Box", "ChunkGrid", "Circle", "Ellipse", "PointAssignment", "Polygon",
    "angular_separation_deg", "assign_points", "assign_reference", "chunk_and_subchunk_coverage",
    "coverage", "max_overlap_arcsec", "validate_positions",
]
