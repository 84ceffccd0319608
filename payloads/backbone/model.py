"""The registry's vocabulary (pure: no I/O): the dimension universe, names, dataset ids and data
ids.

A data id is a dict of dimension -> value over the dimensions of its dataset type (every one of
them, nothing else). A dataset's id is a UUID5 of its dataset type, its data id and its run, so
registering the same dataset twice yields the same id (idempotent registration)."""

import hashlib
import json
import re
import uuid

from qserv.errors import UserError

# dimension -> Felis datatype (the columns of the dataset table)
DIMENSIONS = {
    "instrument": "string", "skymap": "string", "band": "string", "physical_filter": "string",
    "visit": "long", "exposure": "long", "detector": "long", "tract": "long", "patch": "long",
    "day_obs": "long",
}
COLLECTION_TYPES = ("run", "tagged", "chained", "calibration")
NAMESPACE = uuid.UUID("5c1a4b0e-9d55-5f27-8e43-2b0f0c6a6d1e")  # of backbone dataset ids
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./:+-]{0,199}$")


def check_name(name, what):
    """Collection, dataset type, site and rule names: letters, digits and _ . / : + - (no quote,
    no space), at most 200 characters."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(f"invalid {what} name {name!r}: use letters, digits and _ . / : + - "
                        "(at most 200 characters)")
    return name


def check_dimensions(dimensions):
    """The dimension names of a dataset type, validated, in universe order."""
    names = [d.strip() for d in dimensions if d.strip()]
    unknown = [d for d in names if d not in DIMENSIONS]
    if unknown:
        raise UserError(f"unknown dimension(s) {', '.join(map(repr, unknown))} "
                        f"(known: {', '.join(DIMENSIONS)})")
    if len(set(names)) != len(names):
        raise UserError(f"repeated dimension in {', '.join(names)}")
    return [d for d in DIMENSIONS if d in names]


def normalize_data_id(data_id, dimensions, dataset_type):
    """``data_id`` (dimension -> value) with exactly ``dimensions``, values of their types."""
    missing = [d for d in dimensions if data_id.get(d) is None]
    if missing:
        raise UserError(f"data id {data_id} of dataset type {dataset_type!r} misses dimension(s) "
                        f"{', '.join(missing)}")
    extra = [d for d, v in data_id.items() if d not in dimensions and v is not None]
    if extra:
        raise UserError(f"dimension(s) {', '.join(extra)} are not dimensions of dataset type "
                        f"{dataset_type!r} ({', '.join(dimensions)})")
    out = {}
    for d in dimensions:
        value = data_id[d]
        try:
            out[d] = int(value) if DIMENSIONS[d] == "long" else str(value)
        except (TypeError, ValueError):
            raise UserError(f"dimension {d} of {dataset_type!r}: {value!r} is not an integer") from None
        if DIMENSIONS[d] == "long" and isinstance(value, float) and value != out[d]:
            raise UserError(f"dimension {d} of {dataset_type!r}: {value!r} is not an integer")
    return out


def data_id_key(data_id):
    """A canonical text of a normalized data id (equal data ids, equal keys)."""
    return json.dumps(data_id, sort_keys=True, separators=(",", ":"))


def dataset_id(dataset_type, data_id, run, key=None):
    """The UUID5 of a dataset (type, normalized data id, run) as text (``key``: the data id's
    ``data_id_key`` when already known)."""
    return str(uuid.uuid5(NAMESPACE, f"{dataset_type}\x00{key or data_id_key(data_id)}\x00{run}"))


def lookup_key(dataset_type, key):
    """The dataset table's partition key: a digest of the dataset type and a data id's
    ``data_id_key`` (no run), so every dataset of one data id lies in one hash bucket and a find by
    a full data id reads that bucket only. Hex digits only (it can be written into a query)."""
    return hashlib.blake2b(f"{dataset_type}\x00{key}".encode(), digest_size=12).hexdigest()


def check_uuid(value):
    """A dataset id as produced by ``dataset_id`` (so it can be written into a query)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise UserError(f"{value!r} is not a dataset id (a UUID)") from None
