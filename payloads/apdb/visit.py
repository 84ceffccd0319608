"""One visit's association on an APDB of the core: read the DiaObjects of the field and their
DiaSource history, associate (``association``), store everything in one ``Apdb.store``."""

import numpy as np
import pyarrow as pa

from qserv.errors import InputError
from qserv.sphere import Circle, angular_separation_deg
from qserv.sphere.angles import ARCSEC_PER_DEG, unit_vectors, validate_positions, vectors_to_radec

from qserv.payloads.apdb.association import associate
from qserv.payloads.apdb.store import as_arrow


def field_circle(ra_deg, dec_deg, margin_arcsec):
    """The circle about the points' mean direction that holds them all, widened by margin_arcsec."""
    ra, dec = validate_positions(ra_deg, dec_deg, "DiaSource position")
    centre_ra, centre_dec = vectors_to_radec(unit_vectors(ra, dec).sum(axis=0))
    reach = float(angular_separation_deg(centre_ra, centre_dec, ra, dec).max()) if len(ra) else 0.0
    return Circle(float(centre_ra), float(centre_dec), min(reach + margin_arcsec / ARCSEC_PER_DEG, 180.0))


def associate_visit(apdb, visit, detector, sources, visit_time, radius_arcsec=1.0):
    """Associate the DiaSources of one visit/detector (a pyarrow.Table or pandas.DataFrame with the
    DiaSource columns; visit and detector may be absent) with the APDB's DiaObjects and store the
    sources and the new DiaObject versions in one transaction.

    Returns the ``association.Association``, or None when this visit/detector is stored already
    (a retried call is a no-op). The field read is the sources' bounding circle widened by the
    radius (objects) and by twice the radius (the DiaSource history of the matched objects).
    """
    if apdb.contains_visit_detector(visit, detector):
        return None
    sources = _with_visit_detector(as_arrow(sources, "DiaSource"), int(visit), int(detector))
    if sources.num_rows == 0:
        raise InputError("DiaSource", f"no DiaSources for visit {visit}, detector {detector}")
    ra, dec = sources.column("ra").to_numpy(), sources.column("dec").to_numpy()
    objects = apdb.get_diaobjects(field_circle(ra, dec, radius_arcsec))
    history = apdb.get_diasources(field_circle(ra, dec, 2 * radius_arcsec), None, visit_time)
    result = associate(sources, objects, history, float(visit_time.tai.mjd), radius_arcsec)
    apdb.store(visit_time, result.objects, result.sources)
    return result


def _with_visit_detector(sources, visit, detector):
    """``sources`` with visit and detector set, or an error naming the first row of another visit."""
    for name, value, arrow_type in (("visit", visit, pa.int64()), ("detector", detector, pa.int16())):
        if name in sources.column_names:
            values = sources.column(name).to_numpy(zero_copy_only=False)
            other = np.flatnonzero(values != value)
            if len(other):
                raise InputError("DiaSource", f"{name} {values[other[0]].item()!r} is not the visit's {value}",
                                 row=int(other[0]) + 1, column=name)
        else:
            sources = sources.append_column(name, pa.array(np.full(sources.num_rows, value), type=arrow_type))
    return sources
