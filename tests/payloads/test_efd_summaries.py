"""The per-window reductions of qserv.payloads.efd.summaries against pandas / numpy one window at a
time, with NULLs, empty windows, too few samples for a fit and samples sharing a time."""

import numpy as np
import pandas as pd
import pytest

from qserv.payloads.efd.summaries import Samples, last_values


def test_samples_against_pandas():
    rng = np.random.default_rng(5)
    counts = np.array([0, 1, 2, 3, 40, 200, 7, 0, 55])
    lengths_s = rng.uniform(5, 60, len(counts))
    seconds = np.concatenate([np.sort(rng.uniform(0, length, c)) for c, length in zip(counts, lengths_s)])
    values = 1e3 + rng.normal(0, 1e-3, counts.sum()) + 1e-4 * seconds ** 2
    values[rng.uniform(size=len(values)) < 0.1] = np.nan
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    samples = Samples(starts, seconds, values, lengths_s)
    for w, (start, count) in enumerate(zip(starts, counts)):
        y = pd.Series(values[start:start + count])
        t = seconds[start:start + count][y.notna().to_numpy()]
        y = y.dropna()
        for function, expected in (("mean", y.mean()), ("min", y.min()), ("max", y.max()), ("stddev", y.std(ddof=1))):
            got = samples.summary(function)[w]
            assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected, rel=1e-9), (w, function)
        for degree in (0, 1, 2, 3):
            got = samples.summary("rms_from_polynomial_fit", degree)[w]
            if len(y) <= degree:
                assert np.isnan(got)
                continue
            residuals = y.to_numpy() - np.polynomial.Polynomial.fit(t, y.to_numpy(), degree)(t)
            # an exact fit (n = degree + 1) leaves rounding: tolerated up to 1e-9 of the spread
            assert got == pytest.approx(np.sqrt(np.mean(residuals ** 2)), rel=1e-6, abs=1e-9 * y.std(ddof=0)), \
                (w, degree)


def test_last_values_ties_and_nulls():
    rng = np.random.default_rng(2)
    slots = rng.integers(0, 6, 300)
    times = rng.integers(0, 20, 300).astype(float)
    a = rng.normal(size=300)
    b = np.where(rng.uniform(size=300) < 0.5, np.nan, rng.normal(size=300))
    found = last_values(slots, times, {"a": a, "b": b})
    frame = pd.DataFrame({"slot": slots, "t": times, "a": a, "b": b})
    for slot, rows in frame.groupby("slot"):
        last = rows[rows["t"] == rows["t"].max()]
        assert found[slot]["a"] == last["a"].max()
        expected_b = last["b"].max()
        assert (found[slot]["b"] is None and np.isnan(expected_b)) or found[slot]["b"] == expected_b
    assert set(found) == set(slots.tolist())
    assert last_values(np.array([], int), np.array([]), {"a": np.array([])}) == {}
