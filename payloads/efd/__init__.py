"""The transformed EFD on the core: engineering telemetry topics as ``time`` tables, an exposures
table, and per-exposure summaries computed by queries from a YAML configuration (``Efd``).

``Efd`` is imported on first use, so the CLI starts without pyarrow."""

__all__ = ["Efd"]


def __getattr__(name):
    if name in __all__:
        from qserv.payloads.efd import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
