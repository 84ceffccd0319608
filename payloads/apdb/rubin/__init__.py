"""lsst.dax.apdb's interface to the APDB on the core (needs the ``rubin`` extra: lsst-dax-apdb).

Importing this module registers the implementation: ``Apdb.from_config(ApdbQservConfig(...))``,
``ApdbReplica.from_config`` and ``ApdbConfig.from_uri`` (implementation type ``qserv``) work.
``ApdbQserv.init_database(home=PATH, ...)`` creates an APDB and returns its config.
"""

from qserv.payloads.apdb.rubin.apdb_qserv import ApdbQserv
from qserv.payloads.apdb.rubin.config import ApdbQservConfig
from qserv.payloads.apdb.rubin.registration import register
from qserv.payloads.apdb.rubin.replica import ApdbQservReplica

register()

__all__ = ["ApdbQserv", "ApdbQservConfig", "ApdbQservReplica"]
