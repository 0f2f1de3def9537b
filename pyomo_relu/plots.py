"""Pictures of the indicators: bound widths and stable shares, linear regions in 1-D / 2-D.

Matplotlib is imported inside the functions and used through its
object-oriented API on the Agg canvas, so no GUI backend and no global pyplot
state are involved; every function writes a PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .bounds.core import NeuronBounds, check_box, require_bounds, require_network
from .errors import MissingBoundsError, ShapeMismatchError, UnknownOptionError
from .network import ReluNetwork

__all__ = ["plot_bounds", "plot_regions_2d"]

_COLORS = {
    "inactive": "#4c72b0",
    "active": "#55a868",
    "saturated": "#8172b2",
    "unstable": "#c44e52",
}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(
            f"cannot write the plot {str(path)!r}: the folder {str(path.parent)!r} does not exist."
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"cannot write the plot {str(path)!r}: it is a folder; pass a file name such as "
            f"{str(path / 'plot.png')!r}."
        )
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def plot_bounds(bounds: NeuronBounds, path, *, title: str | None = None) -> Path:
    """Per-layer bound widths (box plot) and shares of stable/unstable neurons (stacked bars).

    Parameters
    ----------
    bounds : NeuronBounds
    path : str or Path
        PNG file to write.
    title : str, optional
        Figure title (default names the bounds' methods).

    Returns
    -------
    Path
    """
    require_bounds(bounds, "plot_bounds")
    layers = [k for k in range(bounds.n_layers) if bounds.is_piecewise(k)] or list(
        range(bounds.n_layers)
    )
    fig = _figure(10.0, 4.0)
    ax_w, ax_s = fig.subplots(1, 2)
    widths = [np.maximum(bounds.upper[k] - bounds.lower[k], 0.0) for k in layers]
    ax_w.boxplot(widths, showfliers=True)
    ax_w.set_xticks(range(1, len(layers) + 1), [str(k) for k in layers])
    if all(
        np.all(w > 0) for w in widths
    ):  # a zero width (degenerate box) has no place on a log axis
        ax_w.set_yscale("log")
    ax_w.set_xlabel("layer")
    ax_w.set_ylabel("bound width u - l")
    ax_w.set_title("pre-activation bound widths")
    bottom = np.zeros(len(layers))
    for kind in ("inactive", "active", "saturated", "unstable"):
        share = np.array([_share(bounds, k, kind) for k in layers])
        ax_s.bar([str(k) for k in layers], share, bottom=bottom, color=_COLORS[kind], label=kind)
        bottom += share
    ax_s.set_ylim(0, 100)
    ax_s.set_xlabel("layer")
    ax_s.set_ylabel("% of neurons")
    ax_s.set_title("stable and unstable neurons")
    ax_s.legend(loc="upper right", fontsize="small")
    methods = ", ".join(dict.fromkeys(bounds.methods[k] for k in layers))
    fig.suptitle(title or f"Neuron bounds ({methods})")
    return _save(fig, path)


def _share(bounds: NeuronBounds, k: int, kind: str) -> float:
    n = len(bounds.lower[k])
    if not bounds.is_piecewise(k):
        return 0.0
    pieces = bounds.pieces(k)
    mask = {
        "inactive": pieces.inactive,
        "saturated": pieces.saturated,
        "active": pieces.linear,
        "unstable": pieces.unstable,
    }[kind]
    return 100.0 * mask.sum() / n


def _pattern_ids(net: ReluNetwork, x: np.ndarray) -> tuple[np.ndarray, int]:
    pats = np.ascontiguousarray(net.activation_patterns(x))
    if pats.shape[1] == 0:
        return np.zeros(len(x), dtype=int), 1
    rows = pats.view(np.dtype((np.void, pats.shape[1]))).ravel()
    uniq, ids = np.unique(rows, return_inverse=True)
    return ids.ravel(), len(uniq)


def plot_regions_2d(
    net: ReluNetwork,
    lb,
    ub,
    path,
    *,
    resolution: int = 400,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Draw the linear regions of a network with one or two free inputs.

    Two free inputs: every point of a ``resolution x resolution`` grid is
    coloured by its activation pattern (a random colour per pattern, region
    borders dark).  One free input: the network's first output along the
    input, one colour per region.  Inputs with ``lb == ub`` are held fixed.
    A grid can miss regions thinner than its spacing; use
    :func:`pyomo_relu.analysis.count_linear_regions` for the count.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like (n_inputs,) or scalar
    path : str or Path
        PNG file to write.
    resolution : int
        Grid points per free input.
    seed : int
        Seed of the colours.
    title : str, optional

    Returns
    -------
    Path

    Raises
    ------
    ShapeMismatchError
        When the box does not have one or two free inputs.
    """
    require_network(net, "plot_regions_2d")
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, np.integer))
        or resolution < 2
    ):
        raise UnknownOptionError(
            f"plot_regions_2d: resolution={resolution!r}; expected an integer >= 2."
        )
    lb, ub = check_box(net, lb, ub)
    free = np.flatnonzero(ub > lb)
    if free.size not in (1, 2):
        fix = (
            "widen one or two inputs (lb < ub)"
            if free.size == 0
            else "fix the other inputs by giving them lb == ub"
        )
        raise ShapeMismatchError(
            f"plot_regions_2d: the box has {free.size} free inputs (lb < ub), expected 1 or 2; "
            f"{fix}."
        )
    with np.errstate(over="ignore"):
        too_wide = not np.all(np.isfinite(ub - lb))
    if too_wide:
        raise MissingBoundsError(
            "plot_regions_2d: the box is too wide for float64 (ub - lb overflows); pass a smaller "
            "box."
        )
    res = int(resolution)
    axes = [np.linspace(lb[i], ub[i], res) for i in free]
    mesh = np.meshgrid(*axes, indexing="xy")
    x = np.repeat(lb[None, :], mesh[0].size, axis=0)
    for i, m in zip(free, mesh):
        x[:, i] = m.ravel()
    ids, n = _pattern_ids(net, x)
    rng = np.random.default_rng(seed)
    colors = 0.35 + 0.6 * rng.random((n, 3))
    fig = _figure(6.0, 5.0)
    ax = fig.subplots()
    if free.size == 2:
        img = colors[ids.reshape(res, res)]
        grid = ids.reshape(res, res)
        edge = np.zeros_like(grid, dtype=bool)
        edge[:, 1:] |= grid[:, 1:] != grid[:, :-1]
        edge[1:, :] |= grid[1:, :] != grid[:-1, :]
        img[edge] *= 0.3
        ax.imshow(
            img,
            origin="lower",
            extent=(lb[free[0]], ub[free[0]], lb[free[1]], ub[free[1]]),
            aspect="auto",
            interpolation="nearest",
        )
        ax.set_ylabel(net.input_names[free[1]])
    else:
        y = net.forward(x)[:, 0]
        for j in range(n):
            ax.plot(
                x[ids == j, free[0]], y[ids == j], "-", lw=2, color=colors[j]
            )  # a region is an interval
        for xc in x[1:, free[0]][np.diff(ids) != 0]:
            ax.axvline(xc, color="0.8", lw=0.5, zorder=0)
        ax.set_ylabel(net.output_names[0])
    ax.set_xlabel(net.input_names[free[0]])
    ax.set_title(
        title
        or f"{n} activation patterns on a grid of {res}" + (f" x {res}" if free.size == 2 else "")
    )
    return _save(fig, path)
