"""Alerts and the alert archive (issue 19): alert packets built from what the APDB stored
(``packets``, ``build``), in the Confluent wire format of ``lsst-alert-packet``'s schemas
(``wire``), archived gzipped with their searchable fields in a director table of the core and
found by id, object, sky region, time window and field cuts (``archive``, ``search``), streamed
out and in as Avro container files (``files``).

``AlertArchive`` is imported on first use, so the CLI starts without pyarrow."""

__all__ = ["AlertArchive"]


def __getattr__(name):
    if name in __all__:
        from qserv.payloads.alerts import archive

        return getattr(archive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
