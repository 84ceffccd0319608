"""qserv.fingerprint: the row checksum ignores row order and integer widths, tolerates float
differences below its precision and no larger ones; unmatched_rows agrees with a brute-force
multiset difference (collections.Counter)."""

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from qserv.fingerprint import FLOAT_SIGNIFICANT_BITS, checksum, columns_of, unmatched_rows


def _table(rng, n):
    strings = np.array(["a", "b", "ccc", "", "é"])
    return pa.table({
        "i": pa.array(rng.integers(-5, 5, n), pa.int64()),
        "f": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1e3, n))),
        "s": pa.array(strings[rng.integers(0, 5, n)].tolist(), mask=rng.random(n) < 0.1),
        "b": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.1),
        "t": pa.array(rng.integers(0, 10**12, n), pa.timestamp("us")),
    })


def test_checksum_ignores_order_and_integer_width():
    rng = np.random.default_rng(3)
    table = _table(rng, 500)
    shuffled = table.take(rng.permutation(500))
    assert checksum(shuffled) == checksum(table)
    narrow = table.set_column(0, "i", table.column("i").cast(pa.int8()))
    assert checksum(narrow) == checksum(table)
    assert columns_of(narrow)[0] == ["i", "int8"]
    assert checksum(table.slice(0, 499)) != checksum(table)
    assert checksum(pa.concat_tables([table, table.slice(0, 1)])) != checksum(table)
    swapped = pa.table({"a": table.column("i"), "b": table.column("i").cast(pa.int32())})
    other = pa.table({"a": pa.array(rng.integers(-5, 5, 500)), "b": table.column("i")})
    assert checksum(swapped) != checksum(other)
    assert checksum(table.slice(0, 0)) == "0" * 16


def test_float_precision():
    rng = np.random.default_rng(4)
    values = rng.normal(0, 1e6, 1000) * 10.0 ** rng.integers(-20, 20, 1000)
    base = checksum(pa.table({"x": values}))
    tiny = values * (1 + rng.choice([-1, 1], 1000) * 2.0 ** -(FLOAT_SIGNIFICANT_BITS + 12))
    # rounding boundaries: a value within 2**-(bits+12) of one flips, for about 1000 * 2**-11 values
    near = np.abs(np.ldexp(*np.frexp(values)[:1], FLOAT_SIGNIFICANT_BITS) % 1 - 0.5) < 2.0 ** -10
    assert checksum(pa.table({"x": np.where(near, values, tiny)})) == base
    changed = values.copy()
    changed[17] *= 1 + 2.0 ** -(FLOAT_SIGNIFICANT_BITS - 4)
    assert checksum(pa.table({"x": changed})) != base
    assert checksum(pa.table({"x": values.astype(np.float32).astype(np.float64)})) != base
    specials = pa.table({"x": [np.inf, -np.inf, np.nan, 0.0, -0.0, None]})
    assert checksum(specials) == checksum(specials.take([5, 4, 3, 2, 1, 0]))
    assert checksum(pa.table({"x": [0.0]})) == checksum(pa.table({"x": [-0.0]}))
    assert checksum(pa.table({"x": [np.nan]})) != checksum(pa.table({"x": [None]}, pa.schema([("x", pa.float64())])))


@pytest.mark.parametrize("seed", range(5))
def test_unmatched_rows_against_counter(seed):
    rng = np.random.default_rng(seed)
    old = pa.table({"k": rng.integers(0, 8, 60), "s": [str(v) for v in rng.integers(0, 3, 60)]})
    new = pa.table({"k": rng.integers(0, 8, 50), "s": [str(v) for v in rng.integers(0, 3, 50)]})
    missing, extra = unmatched_rows(old, new)
    rows_old = [tuple(r.values()) for r in old.to_pylist()]
    rows_new = [tuple(r.values()) for r in new.to_pylist()]
    assert Counter(rows_old[i] for i in missing) == Counter(rows_old) - Counter(rows_new)
    assert Counter(rows_new[i] for i in extra) == Counter(rows_new) - Counter(rows_old)
    assert list(missing) == sorted(missing)
