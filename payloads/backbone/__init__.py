"""The Data Backbone registry (dataset types, collections, datasets, artifacts, sites, replicas,
rules, provenance) on the core, with ``ivoa.ObsCore`` kept current (issue 22).

The names below are imported on first use, so the CLI starts without pyarrow or sqlglot."""

__all__ = ["Backbone", "find", "lineage", "query_datasets", "sky_search"]


def __getattr__(name):
    if name == "Backbone":
        from qserv.payloads.backbone.api import Backbone

        return Backbone
    if name in __all__:
        from qserv.payloads.backbone import search

        return getattr(search, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
