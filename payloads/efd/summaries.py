"""The summary functions from the partial sums the core returns, and over pre-aggregated bins
(pure numpy, no I/O).

Per window and field the core gives n (non-NULL samples), their sum, min and max (pass 1), then
sums around the window's mean: q = sum((y - mean)^2) and, for a polynomial fit of degree d in the
window's scaled time x (in [-1, 1]), sum(x^j) for j = 1..2d and sum(x^j * (y - mean)) for j = 0..d
(pass 2). From these:
- stddev = sqrt(q / (n - 1)) (ddof = 1; NULL below 2 samples),
- rms_from_polynomial_fit: the least-squares coefficients solve the normal equations
  sum_k S[j+k] c_k = T[j]; the residual sum of squares is q - c . T; the RMS is sqrt(RSS / n)
  (NULL unless n > d).
"""

import numpy as np


def mean(n, total):
    return total / n if n else None


def stddev(n, q):
    return float(np.sqrt(max(q, 0.0) / (n - 1))) if n >= 2 else None


def fit_rms(n, q, powers, cross, degree):
    """``powers``: sum(x^j) for j = 0..2*degree (powers[0] = n); ``cross``: sum(x^j (y - mean)) for
    j = 0..degree."""
    if n <= degree:
        return None
    normal = np.array([[powers[j + k] for k in range(degree + 1)] for j in range(degree + 1)], dtype=float)
    rhs = np.asarray(cross, dtype=float)
    try:
        coefficients = np.linalg.solve(normal, rhs)
    except np.linalg.LinAlgError:  # repeated sample times: fewer distinct points than degree + 1
        coefficients = np.linalg.lstsq(normal, rhs, rcond=None)[0]
    return float(np.sqrt(max(q - coefficients @ rhs, 0.0) / n))


def over_bins(function, times, values, degree=None):
    """``function`` over the bin means of one window and field (times: the bins' mean times, in
    seconds from the window start)."""
    keep = ~np.isnan(values)
    times, values = times[keep], values[keep]
    n = len(values)
    if function == "mean":
        return float(values.mean()) if n else None
    if function == "min":
        return float(values.min()) if n else None
    if function == "max":
        return float(values.max()) if n else None
    if function == "stddev":
        return float(values.std(ddof=1)) if n >= 2 else None
    if n <= degree:
        return None
    x = times - times.mean()
    scale = np.abs(x).max() or 1.0
    coefficients = np.polyfit(x / scale, values, degree)
    residuals = values - np.polyval(coefficients, x / scale)
    return float(np.sqrt(np.mean(residuals ** 2)))
