"""The Data Backbone registry (dataset types, collections, datasets, artifacts, sites, replicas,
rules, provenance) on the core, with ``ivoa.ObsCore`` kept current (issue 22)."""

from qserv.payloads.backbone.api import Backbone
from qserv.payloads.backbone.search import find, lineage, query_datasets, sky_search

__all__ = ["Backbone", "find", "lineage", "query_datasets", "sky_search"]
