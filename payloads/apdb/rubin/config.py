"""ApdbQservConfig: lsst.dax.apdb's configuration of an APDB held by a qserv instance."""

from typing import ClassVar

from lsst.dax.apdb import ApdbConfig
from pydantic import Field


class ApdbQservConfig(ApdbConfig):
    """Where the APDB is (a qserv home and a database in it); saved and read by
    ``ApdbConfig.save`` / ``ApdbConfig.from_uri`` with implementation type ``qserv``."""

    _implementation_type: ClassVar[str] = "qserv"

    home: str = Field(description="Home of the qserv instance holding the APDB.")
    database: str = Field(default="apdb", description="Database of the APDB in that instance.")
    max_move_arcsec: float = Field(default=60.0, description="Largest move of a DiaObject between versions.")
