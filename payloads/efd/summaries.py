"""The summary functions over the samples of many windows at once (pure numpy, no I/O).

Samples come sorted by window (``starts``: the index of each window's first sample), with their
time in seconds from the window start and NaN for a NULL value. Per window and field:
- mean, min, max over the non-NULL values; stddev with ddof = 1 (NULL below 2 values), from the
  values centred on the window's mean (two passes: no cancellation);
- rms_from_polynomial_fit of degree d: the least-squares polynomial in x (the time scaled to
  [-1, 1] over the window) through the centred values: with S_j = sum(x^j) and T_j =
  sum(x^j (y - mean)), the coefficients c solve sum_k S[j+k] c_k = T[j] (a pseudo-inverse when
  the times repeat), the residual sum of squares is sum((y - mean)^2) - c . T, and the RMS is
  sqrt(RSS / n) (NULL unless n > d).
"""

import numpy as np

def _sums(values, starts, windows):
    """Per-window sums of ``values`` (0 for a window without samples)."""
    out = np.zeros(windows)
    present = np.flatnonzero(np.diff(np.append(starts, len(values))) > 0)
    if len(present):
        out[present] = np.add.reduceat(values, starts[present])
    return out


def _extreme(values, starts, windows, reduce):
    out = np.full(windows, np.nan)
    present = np.flatnonzero(np.diff(np.append(starts, len(values))) > 0)
    if len(present):
        out[present] = reduce.reduceat(values, starts[present])
    return out


def summarise(function, starts, seconds, values, lengths_s, degree=None):
    """``function`` per window: a float array with NaN for NULL. ``starts``: first sample of each
    window; ``seconds``: sample times from the window start; ``values``: float, NaN for NULL;
    ``lengths_s``: the windows' lengths."""
    windows = len(starts)
    counts = np.diff(np.append(starts, len(values)))
    group = np.repeat(np.arange(windows), counts)
    valid = ~np.isnan(values)
    n = _sums(valid.astype(float), starts, windows)
    if function == "min":
        return _extreme(values, starts, windows, np.fmin)
    if function == "max":
        return _extreme(values, starts, windows, np.fmax)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _sums(np.where(valid, values, 0.0), starts, windows) / n
        if function == "mean":
            return mean
        centred = np.where(valid, values - mean[group], 0.0)
        q = _sums(centred * centred, starts, windows)
        if function == "stddev":
            return np.where(n >= 2, np.sqrt(q / (n - 1)), np.nan)
        half = np.where(lengths_s > 0, lengths_s / 2, 1.0)
        x = np.where(valid, (seconds - half[group]) / half[group], 0.0)
        powers = [n] + [_sums(np.where(valid, x ** j, 0.0), starts, windows) for j in range(1, 2 * degree + 1)]
        cross = np.stack([_sums(x ** j * centred, starts, windows) for j in range(degree + 1)], axis=1)
        normal = np.stack([np.stack([powers[j + k] for k in range(degree + 1)], axis=1)
                           for j in range(degree + 1)], axis=1)
        fitted = n > degree
        rss = np.full(windows, np.nan)
        if fitted.any():
            coefficients = np.einsum("wjk,wk->wj", np.linalg.pinv(normal[fitted]), cross[fitted])
            rss[fitted] = q[fitted] - np.einsum("wj,wj->w", coefficients, cross[fitted])
        return np.where(fitted, np.sqrt(np.maximum(rss, 0.0) / n), np.nan)
