"""Regularization study on the peaks surrogate (placeholder header, completed below)."""

from __future__ import annotations

import numpy as np

__all__ = ["peaks", "peaks_data"]


def peaks(x) -> np.ndarray:
    """MATLAB's peaks function of points ``x`` of shape (N, 2) (or (2,))."""
    x = np.asarray(x, dtype=np.float64)
    u, v = x[..., 0], x[..., 1]
    return (3 * (1 - u) ** 2 * np.exp(-u**2 - (v + 1) ** 2)
            - 10 * (u / 5 - u**3 - v**5) * np.exp(-u**2 - v**2)
            - np.exp(-(u + 1) ** 2 - v**2) / 3)


def peaks_data(n: int = 3000, *, seed: int = 0, low: float = -3.0, high: float = 3.0):
    """``n`` uniform samples of the box ``[low, high]^2`` (seeded) and their peaks values."""
    X = np.random.default_rng(seed).uniform(low, high, size=(n, 2))
    return X, peaks(X)
