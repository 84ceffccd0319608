"""The summary functions over the samples of many windows at once (pure numpy, no I/O).

Samples come sorted by window (``starts``: the index of each window's first sample), with their
time in seconds from the window start and NaN for a NULL value. Per window and field:
- mean, min, max over the non-NULL values; stddev with ddof = 1 (NULL below 2 values), from the
  values centred on the window's mean (two passes: no cancellation);
- rms_from_polynomial_fit of degree d: the least-squares polynomial in x (the time scaled to
  [-1, 1] over the window) through the centred values: with S_j = sum(x^j) and T_j =
  sum(x^j (y - mean)), the coefficients c solve sum_k S[j+k] c_k = T[j] (a pseudo-inverse when
  the times repeat), and the RMS is sqrt(sum of the squared residuals / n), the residuals
  evaluated sample by sample (not q - c . T, whose rounding the square root magnified to 1e-6 on
  exact fits) (NULL unless n > d);
- most_recent_value (``last_values``): the values at the latest time of each window's samples
  (the largest value when several samples share that time).
"""

from functools import cached_property

import numpy as np


class Samples:
    """The samples of one field in many windows; ``summary(function)`` gives one value per window
    (NaN for NULL)."""

    def __init__(self, starts, seconds, values, lengths_s):
        self.starts, self.seconds, self.values, self.lengths_s = starts, seconds, values, lengths_s
        self.windows = len(starts)
        counts = np.diff(np.append(starts, len(values)))
        self.present = np.flatnonzero(counts > 0)
        self.group = np.repeat(np.arange(self.windows), counts)
        self.valid = ~np.isnan(values)

    def _reduce(self, values, reduce=np.add, empty=0.0):
        out = np.full(self.windows, empty)
        if len(self.present):
            out[self.present] = reduce.reduceat(values, self.starts[self.present])
        return out

    @cached_property
    def n(self):
        return self._reduce(self.valid.astype(float))

    @cached_property
    def mean(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._reduce(np.where(self.valid, self.values, 0.0)) / self.n

    @cached_property
    def centred(self):
        return np.where(self.valid, self.values - self.mean[self.group], 0.0)

    @cached_property
    def q(self):
        return self._reduce(self.centred * self.centred)

    def summary(self, function, degree=None):
        if function == "min":
            return self._reduce(self.values, np.fmin, np.nan)
        if function == "max":
            return self._reduce(self.values, np.fmax, np.nan)
        if function == "mean":
            return self.mean
        with np.errstate(invalid="ignore", divide="ignore"):
            if function == "stddev":
                return np.where(self.n >= 2, np.sqrt(self.q / (self.n - 1)), np.nan)
            return self._fit_rms(degree)

    def _fit_rms(self, degree):
        half = np.where(self.lengths_s > 0, self.lengths_s / 2, 1.0)[self.group]
        x = np.where(self.valid, (self.seconds - half) / half, 0.0)
        powers, power = [self.n], np.where(self.valid, 1.0, 0.0)
        cross = [self._reduce(self.centred)]
        for j in range(1, 2 * degree + 1):
            power = power * x
            powers.append(self._reduce(power))
            if j <= degree:
                cross.append(self._reduce(power * self.centred))
        cross = np.stack(cross, axis=1)
        normal = np.stack([np.stack([powers[j + k] for k in range(degree + 1)], axis=1)
                           for j in range(degree + 1)], axis=1)
        fitted = self.n > degree
        coefficients = np.zeros((self.windows, degree + 1))
        if fitted.any():
            coefficients[fitted] = np.einsum("wjk,wk->wj", np.linalg.pinv(normal[fitted]), cross[fitted])
        fit = np.zeros(len(x))
        for j in range(degree, -1, -1):  # Horner, each sample with its window's coefficients
            fit = fit * x + coefficients[self.group, j]
        rss = self._reduce(np.where(self.valid, (self.centred - fit) ** 2, 0.0))
        return np.where(fitted, np.sqrt(rss / np.where(fitted, self.n, 1.0)), np.nan)


def last_values(slots, times, values):
    """{slot: {field: value}}: per slot, the values at its samples' latest time (the largest value
    of each field when several samples share it; None for NULL)."""
    if not len(slots):
        return {}
    order = np.lexsort((times, slots))
    slots, times = slots[order], times[order]
    starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
    latest = np.repeat(np.maximum.reduceat(times, starts), np.diff(np.r_[starts, len(slots)]))
    last = times == latest
    kept = slots[last]
    kept_starts = np.flatnonzero(np.r_[True, kept[1:] != kept[:-1]])
    out = {int(s): {} for s in kept[kept_starts]}
    for field, column in values.items():
        for slot, value in zip(kept[kept_starts].tolist(), np.fmax.reduceat(column[order][last], kept_starts).tolist()):
            out[slot][field] = None if np.isnan(value) else value
    return out
