"""Chunk boundaries for the console's sky view: the HEALPix nested pixels at a database's chunk
order that hold rows of a table, each as a closed RA/Dec polyline (degrees). Pure apart from healpy."""

import numpy as np

MAX_CHUNKS = 4000  # polylines in one answer (order 4 has 3072 pixels; finer orders send populated ones)
STEPS_PER_EDGE = 3  # points per pixel edge: enough to follow the curved edges at low orders


def chunk_polylines(chunk_ids, chunk_order, steps=STEPS_PER_EDGE):
    """[(chunk, [[ra_deg, dec_deg], ...])] of ``chunk_ids`` (nested pixels at ``chunk_order``)."""
    import healpy

    chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
    if chunk_ids.size == 0:
        return []
    corners = healpy.boundaries(healpy.order2nside(chunk_order), chunk_ids, step=steps, nest=True)
    corners = corners.reshape(chunk_ids.size, 3, -1)  # one pixel gives (3, 4*steps)
    x, y, z = corners[:, 0], corners[:, 1], corners[:, 2]
    ra_deg = np.degrees(np.arctan2(y, x)) % 360.0
    dec_deg = np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
    return [(int(chunk), np.round(np.stack([ra_deg[i], dec_deg[i]], axis=1), 5).tolist())
            for i, chunk in enumerate(chunk_ids)]


def grid_json(table, chunk_order, chunk_rows):
    """The JSON of /console/api/chunk_grid: ``chunk_rows`` are ``Engine.chunks`` rows."""
    populated = [(chunk, rows) for chunk, rows, overlap, _ in chunk_rows if rows + overlap > 0]
    populated.sort(key=lambda item: -item[1])
    shown = populated[:MAX_CHUNKS]
    rows = dict(shown)
    return {"table": table, "chunk_order": chunk_order, "chunks_total": len(populated),
            "chunks": [{"chunk": chunk, "rows": rows[chunk], "boundary": line}
                       for chunk, line in chunk_polylines([c for c, _ in shown], chunk_order)]}
