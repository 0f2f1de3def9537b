"""The networks of the peers benchmark (:mod:`.peers`), cached as ONNX.

Each :class:`PeerNetwork` is a box problem: optimize one output of a network over
an input box.  The trained ones are fitted with ``train_mlp`` on seeded
Latin-hypercube samples of a test function (:mod:`.problems._box`); the random
ones are drawn from a seeded generator.  :func:`load_network` reads
``data/peers/<name>.onnx`` and makes (and saves) the network when the file is
missing, so the committed files make every run use the same networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UnknownOptionError
from ..network import Activation, DenseLayer, ReluNetwork

__all__ = [
    "DATA_DIR",
    "PeerNetwork",
    "NETWORKS",
    "DEFAULT_NETWORKS",
    "QUICK_NETWORKS",
    "OIL_NETWORKS",
    "get_network",
    "load_network",
    "load_oil_networks",
]

DATA_DIR = Path(__file__).resolve().parent / "data" / "peers"


@dataclass(frozen=True)
class PeerNetwork:
    """One benchmark network: optimize output ``output`` over the box ``[lower, upper]``.

    ``make()`` trains or draws the network; :func:`load_network` caches it as
    ``data/peers/<name>.onnx``.
    """

    name: str
    description: str
    lower: tuple
    upper: tuple
    sense: str
    make: Callable[[], ReluNetwork]
    output: int = 0

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lb, ub)`` as float64 arrays."""
        return np.asarray(self.lower, dtype=np.float64), np.asarray(self.upper, dtype=np.float64)


def _trained(spec_name: str, hidden: tuple) -> Callable[[], ReluNetwork]:
    """A maker training a surrogate of the named box function (seeded, :mod:`.problems._box`)."""

    def make() -> ReluNetwork:
        from ..training import train_mlp
        from .problems import _box

        spec = _box_spec(spec_name)
        X, y = _box.samples(spec, spec.samples["full"], seed=0)
        lb, ub = spec.box()
        result = train_mlp(
            X, y, hidden=hidden, epochs=spec.epochs["full"], batch_size=64, lr=3e-3, seed=0,
            input_bounds=(lb.tolist(), ub.tolist()),
        )  # fmt: skip
        return result.network

    return make


def _box_spec(name: str):
    from .problems import ackley, peaks, process, sines

    return {
        "sines5": sines.SPEC,
        "ackley5": ackley.SPECS[5],
        "cstr": process.SPEC,
        "peaks2": peaks.PEAKS2,
    }[name]


def _random_network(sizes: tuple, seed: int) -> ReluNetwork:
    """Seeded He-uniform ReLU network with the layer widths ``sizes`` (linear output)."""
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.uniform(-1.0, 1.0, size=(n_out, n_in)) * np.sqrt(6.0 / n_in)
        b = rng.uniform(-1.0, 1.0, size=n_out) / np.sqrt(n_in)
        last = k == len(sizes) - 2
        layers.append(DenseLayer(w, b, Activation.LINEAR if last else Activation.RELU))
    return ReluNetwork(layers)


def _acas() -> ReluNetwork:
    from .problems.acas import acas_network

    return acas_network(seed=0)


NETWORKS = {
    n.name: n
    for n in (
        PeerNetwork("sines5_64x3", "sum of sin(3 x_i), 5-64x3-1", (-2.0,) * 5, (2.0,) * 5, "min",
                    _trained("sines5", (64, 64, 64))),
        PeerNetwork("ackley5_25x3", "Ackley-5, 5-25x3-1", (-3.5,) * 5, (3.5,) * 5, "min",
                    _trained("ackley5", (25, 25, 25))),
        PeerNetwork("cstr_20x4", "CSTR margin (unit cube), 3-20x4-1", (0.0,) * 3, (1.0,) * 3,
                    "min", _trained("cstr", (20, 20, 20, 20))),
        PeerNetwork("acas_50x6", "random, ACAS Xu shape 5-50x6-5, max y0", (-1.0,) * 5,
                    (1.0,) * 5, "max", _acas),
        PeerNetwork("peaks_25x2", "peaks, 2-25-25-1", (-2.0,) * 2, (2.0,) * 2,
                    "min", _trained("peaks2", (25, 25))),
        PeerNetwork("peaks_50x3", "peaks, 2-50x3-1", (-2.0,) * 2, (2.0,) * 2,
                    "min", _trained("peaks2", (50, 50, 50))),
        # a tiny random network for the quick test; not in the default list
        PeerNetwork("tiny", "random 3-8-8-1", (-1.0,) * 3, (1.0,) * 3, "min",
                    lambda: _random_network((3, 8, 8, 1), seed=3)),
    )
}  # fmt: skip
DEFAULT_NETWORKS = tuple(n for n in NETWORKS if n != "tiny")
QUICK_NETWORKS = ("peaks_25x2", "cstr_20x4")
#: the oil problem's network sets, one per training variant (``oil_<variant>``)
OIL_NETWORKS = (
    "oil_plain",
    "oil_l1_weak",
    "oil_l1_strong",
    "oil_stability",
    "oil_clipped",
    "oil_dropout",
    "oil_plain_alt",
)


def get_network(name: str) -> PeerNetwork:
    """The benchmark network ``name``; UnknownOptionError lists the valid names."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise UnknownOptionError(
            f"unknown peers network {name!r}; valid: {', '.join(NETWORKS)}, "
            f"{', '.join(OIL_NETWORKS)}."
        ) from None


def load_network(name: str, *, data_dir: Path = DATA_DIR) -> ReluNetwork:
    """The network ``name`` from ``data_dir/<name>.onnx``, made (and saved there) if missing."""
    from ..io.onnx import load_onnx, save_onnx

    path = Path(data_dir) / f"{name}.onnx"
    if path.exists():
        return load_onnx(path)
    net = get_network(name).make()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_onnx(net, path)
    return load_onnx(path)


def load_oil_networks(name: str, *, data_dir: Path = DATA_DIR) -> dict:
    """The ten oil networks of ``oil_<variant>`` (trained once, cached under ``data_dir/oil``)."""
    from .problems import oil
    from .problems._common import select_variants

    variant = name.removeprefix("oil_")
    (v,) = select_variants([variant])
    return {
        k: t.network for k, t in oil.train_networks(v, cache_dir=Path(data_dir) / "oil").items()
    }
