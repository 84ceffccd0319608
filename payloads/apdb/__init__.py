"""The Alert Production database (APDB) on the core: ``Apdb`` (native API over Arrow) and, with
the ``rubin`` extra, ``qserv.payloads.apdb.rubin`` (lsst.dax.apdb's Apdb interface).

``Apdb`` and ``ApdbSettings`` are imported on first use, so the CLI starts without pyarrow."""

__all__ = ["Apdb", "ApdbSettings"]


def __getattr__(name):
    if name in __all__:
        from qserv.payloads.apdb import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
