"""Felis schema locations as lsst.dax.apdb gives them (paths, or resource:// URIs) made local."""

from pathlib import Path

from lsst.resources import ResourcePath

from qserv.schema.felis import sdm_schema_path

SDM_RESOURCE = "resource://lsst.sdm.schemas/"


def local_schema_file(uri):
    """A local path of a schema file: a bundled lsst-sdm-schemas file for its resource URI."""
    if uri.startswith(SDM_RESOURCE):
        return sdm_schema_path(uri[len(SDM_RESOURCE):])
    if "://" not in uri:
        return Path(uri)
    return Path(ResourcePath(uri).ospath)
