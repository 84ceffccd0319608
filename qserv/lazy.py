"""Modules imported on first use, so that the CLI starts fast (issue 13, item 5).

``healpy`` pulls in astropy (a quarter of a second) and is only needed when a region or a point is
mapped to pixels, not for ``qserv --help`` or a full scan. ``from qserv.lazy import healpy`` gives
a stand-in whose first attribute access imports the real module (``importlib.import_module`` holds
the import lock, so threads racing on the first use are safe) and keeps the attribute.
"""

import importlib


class LazyModule:
    """Stands for the module ``name``; imports it when an attribute is first read."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        if attribute.startswith("__"):  # copy, pickle and friends probe dunders: not the module's
            raise AttributeError(attribute)
        value = getattr(importlib.import_module(self._name), attribute)
        self.__dict__[attribute] = value
        return value

    def __repr__(self):
        return f"<lazy module {self._name!r}>"


healpy = LazyModule("healpy")
