"""The Alert Production database (APDB) on the core: ``Apdb`` (native API over Arrow) and, with
the ``rubin`` extra, ``qserv.payloads.apdb.rubin`` (lsst.dax.apdb's Apdb interface)."""

from qserv.payloads.apdb.api import Apdb, ApdbSettings

__all__ = ["Apdb", "ApdbSettings"]
