"""Synthetic catalogs for the benchmarks, generated once per size and seed and cached."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).parent / "data"
EXTRA_COLUMNS = 9  # with id, ra, dec: 12 columns


def synthetic_objects(rows, seed=0, first_id=0):
    """A director-like table: id, ra, dec uniform on the sphere, then float64 columns."""
    rng = np.random.default_rng(seed)
    columns = {
        "id": np.arange(first_id, first_id + rows, dtype=np.int64),
        "ra": rng.uniform(0.0, 360.0, rows),
        "dec": np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, rows))),
    }
    for k in range(EXTRA_COLUMNS):
        columns[f"flux_{k}"] = rng.normal(size=rows)
    return pa.table(columns)


def objects_parquet(rows, seed=0):
    """Path of a cached Parquet file of ``synthetic_objects(rows, seed)``."""
    path = DATA_DIR / f"objects_{rows}_{seed}.parquet"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        pq.write_table(synthetic_objects(rows, seed), scratch, row_group_size=1 << 18)
        scratch.rename(path)
    return path
