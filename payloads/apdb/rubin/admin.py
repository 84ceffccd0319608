"""ApdbAdmin of the qserv APDB: partitions are the core's chunks (HEALPix nested pixels at the
default chunk order) and time buckets of 30 days."""

import healpy
from lsst.dax.apdb.apdbAdmin import ApdbAdmin

from qserv.errors import UserError
from qserv.sphere.chunking import DEFAULT_CHUNK_ORDER
from qserv.sphere.pixels import nside_of

from qserv.payloads.apdb.reads import DAYS_PER_MONTH


class QservAdmin(ApdbAdmin):
    def __init__(self, native):
        self.native = native

    def apdb_part(self, ra_deg, dec_deg):
        return int(healpy.ang2pix(nside_of(DEFAULT_CHUNK_ORDER), ra_deg, dec_deg, nest=True, lonlat=True))

    def apdb_time_part(self, midpointMjdTai):
        return int(midpointMjdTai // DAYS_PER_MONTH)

    def delete_records(self, objects, sources, forced_sources):
        raise UserError("the qserv APDB keeps every stored version; deleting records is not supported")
