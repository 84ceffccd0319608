"""ObsCore 1.1 (``ivoa.ObsCore``) from the registry (pure apart from reading the Felis file).

The table's columns, UCDs and units are lsst-sdm-schemas' ``ivoa_obscore.yaml`` (the ObsTAP
realization of ObsCore 1.1) plus the required ``access_estsize`` and ``pol_states``; the standard
columns carry the ObsCore 1.1 utypes (``obscore:...``, ``UTYPES``) in TAP_SCHEMA and in result
FIELDs. It is a director table on ``obs_id``
at (``s_ra``, ``s_dec``), so ``CONTAINS(POINT(s_ra, s_dec), CIRCLE(...))`` is answered from the
chunks the circle touches.

Mapping of a registered dataset with sky coverage (documented in the README):
obs_id = the dataset id; obs_publisher_did = ``ivo://qserv.backbone/<database>?<id>``;
obs_collection = its run; access_url = its uri; access_format = from the file suffix (FITS,
Parquet, else application/octet-stream); access_estsize = size in kB; s_ra, s_dec, s_fov (degrees,
diameter), s_region (an STC-S ``POLYGON ICRS ...`` or ``CIRCLE ICRS ...``); t_min, t_max (MJD),
t_exptime = (t_max - t_min) days in seconds; em_min/em_max = the band's wavelength range (LSST
ugrizy, metres); dataproduct_type = image when the storage class names an Exposure or Image,
else measurements; calib_level = 1 for raw (dataset type name starting with "raw"), 3 for coadds
(tract and patch dimensions), else 2; instrument_name and the lsst_* columns from the data id;
o_ucd = phot.count for images."""

from dataclasses import replace

import numpy as np

from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.schema.felis import load_felis_tables, sdm_schema_path

DATABASE, TABLE = "ivoa", "ObsCore"
DATA_MODEL = ("ObsCore-1.1", "ivo://ivoa.net/std/ObsCore#core-1.1")
PUBLISHER = "ivo://qserv.backbone"
# band -> (em_min, em_max) in metres (LSST filter 50% transmission edges, rounded)
BANDS = {"u": (320e-9, 400e-9), "g": (400e-9, 552e-9), "r": (552e-9, 691e-9),
         "i": (691e-9, 818e-9), "z": (818e-9, 922e-9), "y": (948e-9, 1060e-9)}
FORMATS = {".fits": "image/fits", ".fz": "image/fits", ".parquet": "application/x-parquet"}
# ObsCore 1.1 utypes of the standard columns (TAP_SCHEMA and result FIELDs carry these)
UTYPES = {
    "dataproduct_type": "ObsDataset.dataProductType", "dataproduct_subtype": "ObsDataset.dataProductSubtype",
    "calib_level": "ObsDataset.calibLevel", "obs_collection": "DataID.Collection", "obs_id": "DataID.observationID",
    "obs_title": "DataID.Title", "obs_publisher_did": "Curation.PublisherDID", "access_url": "Access.Reference",
    "access_format": "Access.Format", "access_estsize": "Access.Size", "target_name": "Target.Name",
    "s_ra": "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1",
    "s_dec": "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2",
    "s_fov": "Char.SpatialAxis.Coverage.Bounds.Extent.diameter", "s_region": "Char.SpatialAxis.Coverage.Support.Area",
    "s_resolution": "Char.SpatialAxis.Resolution.Refval.value", "s_xel1": "Char.SpatialAxis.numBins1",
    "s_xel2": "Char.SpatialAxis.numBins2", "t_min": "Char.TimeAxis.Coverage.Bounds.Limits.StartTime",
    "t_max": "Char.TimeAxis.Coverage.Bounds.Limits.StopTime", "t_exptime": "Char.TimeAxis.Coverage.Support.Extent",
    "t_resolution": "Char.TimeAxis.Resolution.Refval.value", "t_xel": "Char.TimeAxis.numBins",
    "em_min": "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit",
    "em_max": "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit",
    "em_res_power": "Char.SpectralAxis.Resolution.ResolPower.refVal", "em_xel": "Char.SpectralAxis.numBins",
    "o_ucd": "Char.ObservableAxis.ucd", "pol_states": "Char.PolarizationAxis.stateList",
    "pol_xel": "Char.PolarizationAxis.numBins", "facility_name": "Provenance.ObsConfig.facility.name",
    "instrument_name": "Provenance.ObsConfig.instrument.name",
}
# columns ObsCore 1.1 requires that ivoa_obscore.yaml lacks (Felis entry, Column)
_EXTRA = (
    ({"name": "access_estsize", "@id": "#ObsCore.access_estsize", "datatype": "long", "tap:column_index": 115,
      "description": "Estimated size of dataset in kilo bytes", "tap:principal": 1, "tap:std": 1},
     Column("access_estsize", "long", unit="kbyte", ucd="phys.size;meta.file",
            description="Estimated size of dataset in kilo bytes")),
    ({"name": "pol_states", "@id": "#ObsCore.pol_states", "datatype": "string", "tap:column_index": 265,
      "description": "List of polarization states or NULL if not applicable", "tap:principal": 0, "tap:std": 1},
     Column("pol_states", "string", ucd="meta.code;phys.polarization",
            description="List of polarization states or NULL if not applicable")),
)


def _standard(column):
    utype = UTYPES.get(column.name)
    return replace(column, utype=f"obscore:{utype}") if utype else column


def obscore_spec():
    """The TableSpec of ivoa.ObsCore."""
    felis_table = load_felis_tables(sdm_schema_path("ivoa_obscore"))[TABLE]
    columns = [_standard(c) for c in [*felis_table.columns, *(column for _, column in _EXTRA)]]
    felis = dict(felis_table.felis)
    felis["columns"] = [{**entry, "votable:utype": f"obscore:{UTYPES[entry['name']]}"}
                        if entry.get("name") in UTYPES else entry
                        for entry in [*felis["columns"], *(entry for entry, _ in _EXTRA)]]
    return TableSpec(kind="director", columns=columns, id_column="obs_id", ra_column="s_ra",
                     dec_column="s_dec", felis=felis, description=felis_table.description)


def obscore_rows(datasets, storage_classes, database):
    """ObsCore rows (dicts) of registered dataset rows (dicts with id, dataset_type, run, uri,
    size, ra, dec, radius_deg, s_region, t_min, t_max and the data id dimensions) that have a
    position; ``storage_classes``: dataset type -> storage class."""
    rows = []
    for d in datasets:
        if d.get("ra") is None:
            continue
        storage = storage_classes[d["dataset_type"]]
        image = "Exposure" in storage or "Image" in storage
        band = d.get("band")
        em = BANDS.get(band, (None, None))
        t_min, t_max = d.get("t_min"), d.get("t_max")
        suffix = "." + d["uri"].rsplit(".", 1)[-1].lower() if "." in d["uri"] else ""
        rows.append({
            "dataproduct_type": "image" if image else "measurements",
            "dataproduct_subtype": d["dataset_type"],
            "obs_title": f"{d['dataset_type']} {d['data_id_key']}",
            "facility_name": "Rubin:Simonyi" if d.get("instrument") == "LSSTCam" else None,
            "calib_level": calib_level(d["dataset_type"], d),
            "obs_id": d["id"], "obs_collection": d["run"],
            "obs_publisher_did": f"{PUBLISHER}/{database}?{d['id']}",
            "access_url": d["uri"], "access_format": FORMATS.get(suffix, "application/octet-stream"),
            "access_estsize": None if d.get("size") is None else int(np.ceil(d["size"] / 1000)),
            "s_ra": d["ra"], "s_dec": d["dec"], "s_fov": 2 * d["radius_deg"], "s_region": d["s_region"],
            "t_min": t_min, "t_max": t_max,
            "t_exptime": None if t_min is None or t_max is None else (t_max - t_min) * 86400.0,
            "em_min": em[0], "em_max": em[1], "o_ucd": "phot.count" if image else None,
            "instrument_name": d.get("instrument"),
            "lsst_visit": d.get("visit"), "lsst_detector": d.get("detector"), "lsst_tract": d.get("tract"),
            "lsst_patch": d.get("patch"), "lsst_band": band, "lsst_filter": d.get("physical_filter"),
        })
    return rows


def calib_level(dataset_type, data_id):
    if dataset_type.lower().startswith("raw"):
        return 1
    if data_id.get("tract") is not None and data_id.get("patch") is not None:
        return 3
    return 2


def served_data_models(engine):
    """[(name, ivo-id)] of the data models the TAP service declares: ObsCore 1.1 once
    ivoa.ObsCore exists in a published database."""
    from qserv.errors import NotFoundError

    try:
        engine.table_layout(f"{DATABASE}.{TABLE}")
    except NotFoundError:
        return []
    return [DATA_MODEL]
