"""ApdbMetadata over the APDB's metadata table (keys of qserv itself, 'qserv:...', are hidden)."""

from lsst.dax.apdb.apdbMetadata import ApdbMetadata

INTERNAL_PREFIX = "qserv:"


class QservMetadata(ApdbMetadata):
    def __init__(self, native, check=None):
        self._native, self._check = native, check or (lambda: None)

    def get(self, key, default=None):
        self._check()
        return self._native.get_metadata(key, default)

    def set(self, key, value, *, force=False):
        self._check()
        if not key or not value:
            raise ValueError("metadata key and value must be non-empty")
        if not force and self._native.get_metadata(key) is not None:
            raise KeyError(f"Metadata key {key!r} already exists")
        self._native.set_metadata(key, value)

    def delete(self, key):
        self._check()
        if self._native.get_metadata(key) is None:
            return False
        self._native.set_metadata(key, None)
        return True

    def items(self):
        self._check()
        yield from ((k, v) for k, v in self._native.metadata_items().items() if not k.startswith(INTERNAL_PREFIX))

    def empty(self):
        return not any(True for _ in self.items())
