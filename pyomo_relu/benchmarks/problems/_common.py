"""Pieces shared by the benchmark problems: variants, cached training, embedding.

A *variant* is one way of training a problem's networks (plain, L1, stability
regularized, clipped ReLU, dropout).  Networks are trained once per variant,
seeded, and cached as ONNX files next to a JSON file with their training and
validation errors, so reruns of the suite reuse them.  :func:`embed` puts one
network into a Pyomo model either as a :class:`~pyomo_relu.ReluNetworkBlock`
or, for the baseline, as an OMLT big-M block; every problem builder goes
through it so all configurations run on the same model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import UnknownOptionError
from ...network import ReluNetwork

__all__ = [
    "Variant",
    "VARIANTS",
    "select_variants",
    "TrainedNet",
    "train_cached",
    "default_cache_dir",
    "data_path",
    "embed",
    "block_network",
    "OMLT_FORMULATION",
]

#: formulation name that selects the OMLT baseline in :func:`embed`
OMLT_FORMULATION = "omlt_bigm"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Variant:
    """Training levers of one network variant (keyword arguments of ``train_mlp``)."""

    name: str
    options: dict = field(default_factory=dict)
    description: str = ""


#: the study's variants; problems add their architecture and epochs
VARIANTS = (
    Variant("plain", {}, "no regularization"),
    Variant("l1_weak", {"l1": 1e-4}, "L1 on the weights, 1e-4"),
    Variant("l1_strong", {"l1": 1e-3}, "L1 on the weights, 1e-3"),
    Variant("stability", {"stability": 2e-3}, "ReLU-stability loss (Xiao et al. 2019), 2e-3"),
    Variant(
        "clipped", {"activation": "clipped_relu", "cap": 1.0}, "clipped ReLU min(max(0, z), 1)"
    ),
    Variant("dropout", {"dropout": 0.1}, "dropout 0.1 after every hidden layer"),
    Variant(
        "plain_alt",
        {"arch": "alt"},
        "no regularization, the problem's second architecture "
        "(peaks 3 x 50, reformer OMLT's 4 x 10, oil the deep networks)",
    ),
)
QUICK_VARIANTS = ("plain", "l1_strong")


def select_variants(names=None, *, quick: bool = False) -> list[Variant]:
    """The variants named in ``names`` (default: all, or the quick pair)."""
    by_name = {v.name: v for v in VARIANTS}
    if names is None:
        names = QUICK_VARIANTS if quick else tuple(by_name)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UnknownOptionError(
            f"unknown network variant(s) {unknown}; valid: {', '.join(by_name)}."
        )
    return [by_name[n] for n in names]


def data_path(*parts: str) -> Path:
    """Path of a shipped data file (``pyomo_relu/benchmarks/data/...``)."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"benchmark data file {path} is missing; reinstall pyomo_relu with its package data."
        )
    return path


def read_csv(path: Path, columns: list[str]) -> np.ndarray:
    """Columns of a CSV file with a header row, as a float64 array (rows x columns)."""
    with open(path) as fh:
        header = [h.strip() for h in fh.readline().split(",")]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{path}: columns {missing} not found; the header has {header}.")
    data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    return data[:, [header.index(c) for c in columns]]


def default_cache_dir() -> Path:
    """``$PYOMO_RELU_CACHE`` or ``~/.cache/pyomo_relu/bench``."""
    env = os.environ.get("PYOMO_RELU_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pyomo_relu" / "bench"


@dataclass
class TrainedNet:
    """A trained network with its errors (physical units, averaged over outputs)."""

    network: ReluNetwork
    train_mse: float
    val_mse: float


def _key(tag: str, X: np.ndarray, y: np.ndarray, options: dict) -> str:
    h = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return f"{tag}-{h.hexdigest()[:12]}"


def train_cached(tag: str, X, y, options: dict, cache_dir) -> TrainedNet:
    """Train ``train_mlp(X, y, **options)`` once; later calls load the cached ONNX file.

    The cache key hashes the data and the options, so changing either retrains.
    """
    from ...io.onnx import load_onnx, save_onnx

    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    key = _key(tag, X, y, options)
    onnx_file, meta_file = cache / f"{key}.onnx", cache / f"{key}.json"
    if onnx_file.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        return TrainedNet(load_onnx(onnx_file), meta["train_mse"], meta["val_mse"])
    from ...training import train_mlp

    result = train_mlp(X, y, **options)
    save_onnx(result.network, onnx_file)
    meta = {"train_mse": result.train_mse, "val_mse": result.val_mse, "options": options}
    meta_file.write_text(json.dumps(meta, indent=1, default=str))
    return TrainedNet(result.network, result.train_mse, result.val_mse)


def embed(
    m,
    name: str,
    net: ReluNetwork,
    inputs: list,
    *,
    formulation: str,
    bounds=None,
    input_bounds=None,
):
    """Add network ``net`` to model ``m`` as component ``name``, fed by the variables ``inputs``.

    ``formulation == "omlt_bigm"`` builds OMLT's big-M formulation (the baseline);
    any other value is passed to :class:`~pyomo_relu.ReluNetworkBlock`, together
    with ``bounds`` (a NeuronBounds for this network, optional).  Returns the block;
    its ``outputs[j]`` are the network outputs in both cases.
    """
    if formulation == OMLT_FORMULATION:
        from ..omlt_baseline import add_omlt_block

        return add_omlt_block(m, name, net, inputs, input_bounds=input_bounds)
    from ...block import ReluNetworkBlock

    blk = ReluNetworkBlock(
        network=net,
        inputs=list(inputs),
        input_bounds=input_bounds,
        bounds=bounds,
        formulation=formulation,
    )
    m.add_component(name, blk)
    return blk


def block_network(blk) -> ReluNetwork:
    """The network embedded by a ReluNetworkBlock or by an OMLT block built by :func:`embed`."""
    net = getattr(blk, "network", None)
    if isinstance(net, ReluNetwork):
        return net
    return blk.source_network
