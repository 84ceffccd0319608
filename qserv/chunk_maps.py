"""All-sky maps of a table's chunks (`qserv chunks DB.TABLE --map FILE.png`, and the REST API's
/admin/v1/tables/{table}/map.png): rows per chunk, replicas per chunk and the worker holding each
chunk's replicas, as three HEALPix Mollweide panels (chunk ids are nested pixels at the
database's chunk order). :func:`map_layers` is pure; :func:`chunk_map_png` draws them."""

from dataclasses import dataclass
import io
import threading

import numpy as np

from qserv.errors import UserError

SPATIAL_KINDS = ("director", "child")
MAX_LEGEND = 20
_DRAWING = threading.Lock()  # pyplot keeps global state


@dataclass(frozen=True)
class MapLayers:
    rows: np.ndarray  # per pixel at the chunk order; UNSEEN where the chunk has no rows
    replicas: np.ndarray  # replicas of each chunk with rows; UNSEEN elsewhere
    holders: np.ndarray  # index into ``groups`` of the chunk's workers; UNSEEN elsewhere
    groups: list  # names of the sets of workers holding a chunk ("w1+w2"), sorted


def map_layers(chunk_rows, chunk_order):
    """The MapLayers of ``Engine.chunks`` rows ``(chunk, rows, overlap_rows, [workers])``."""
    import healpy

    pixels = 12 * 4 ** chunk_order
    rows, replicas, holders = (np.full(pixels, healpy.UNSEEN) for _ in range(3))
    shown = [(chunk, count, names) for chunk, count, overlap, names in chunk_rows
             if count + overlap > 0 and 0 <= chunk < pixels]
    groups = sorted({"+".join(sorted(names)) for *_, names in shown if names})
    position = {name: i for i, name in enumerate(groups)}
    for chunk, count, names in shown:
        rows[chunk] = count
        replicas[chunk] = len(names)
        if names:
            holders[chunk] = position["+".join(sorted(names))]
    return MapLayers(rows, replicas, holders, groups)


def draw(layers, title):
    """PNG bytes of the three panels."""
    import healpy
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import Patch

    with _DRAWING:
        figure = pyplot.figure(figsize=(9, 14))
        try:
            seen = layers.rows[layers.rows != healpy.UNSEEN]
            healpy.mollview(layers.rows, nest=True, fig=figure.number, sub=(3, 1, 1), cmap="viridis",
                            title=f"{title}: rows per chunk (grey: no rows)", unit="rows per chunk",
                            min=0, max=max(1, seen.max()) if len(seen) else 1)
            top = int(max(1, layers.replicas.max()))
            healpy.mollview(layers.replicas, nest=True, fig=figure.number, sub=(3, 1, 2),
                            cmap=matplotlib.colormaps["plasma"].resampled(top + 1), min=0, max=top,
                            title=f"replicas per chunk (0 to {top})", unit="replicas (one colour per count)")
            count = max(1, len(layers.groups))
            colours = matplotlib.colormaps["tab20" if count > 10 else "tab10"].resampled(count)
            healpy.mollview(layers.holders, nest=True, fig=figure.number, sub=(3, 1, 3), cmap=colours,
                            min=-0.5, max=count - 0.5, cbar=False, title="workers holding each chunk")
            shown = layers.groups[:MAX_LEGEND]
            more = [Patch(color="white", label=f"... {len(layers.groups) - MAX_LEGEND} more")] \
                if len(layers.groups) > MAX_LEGEND else []
            pyplot.gca().legend(handles=[Patch(color=colours(i), label=name) for i, name in enumerate(shown)] + more,
                                loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=min(4, len(shown) or 1),
                                frameon=False)
            healpy.graticule(dpar=30, dmer=60)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
            return buffer.getvalue()
        finally:
            pyplot.close(figure)


def chunk_map_png(engine, qualified_name):
    """The PNG of a table partitioned by position."""
    kind, chunk_order = engine.table_layout(qualified_name)
    if kind not in SPATIAL_KINDS:
        raise UserError(f"{qualified_name} is a {kind} table: only tables partitioned by position "
                        f"({', '.join(SPATIAL_KINDS)}) have a sky map")
    try:
        import matplotlib  # noqa: F401  (an optional dependency)
    except ImportError as exc:
        raise UserError("maps need matplotlib (pip install matplotlib)") from exc
    return draw(map_layers(engine.chunks(qualified_name), chunk_order), qualified_name)
