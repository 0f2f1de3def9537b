"""Train the shipped peaks surrogate and save it as ONNX.

Samples MATLAB's peaks function on [-3, 3]^2 (seeded), trains a
2 -> 25 -> 25 -> 1 ReLU network with ``pyomo_relu.training.train_mlp``, reports
its error and the surrogate's minimum on a dense grid next to the true one
(about -6.551 near (0.228, -1.626)), and writes the network to ONNX.

Run from the repository root (needs the ``train`` extra)::

    python examples/train_peaks.py                 # writes pyomo_relu/data/peaks.onnx
    python examples/train_peaks.py -o my_peaks.onnx --epochs 300
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from pyomo_relu.benchmarks.regularization import peaks, peaks_data
from pyomo_relu.io.onnx import save_onnx
from pyomo_relu.training import train_mlp

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "pyomo_relu" / "data" / "peaks.onnx"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help="ONNX file to write")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    args = parser.parse_args(argv)

    X, y = peaks_data(args.samples, seed=args.seed)
    result = train_mlp(
        X,
        y,
        hidden=(25, 25),
        epochs=args.epochs,
        batch_size=32,
        lr=2e-3,
        seed=args.seed,
        verbose=args.progress,
    )
    net = result.network
    grid = np.linspace(-3.0, 3.0, 301)
    G = np.array(np.meshgrid(grid, grid)).reshape(2, -1).T
    pred, true = net.forward(G)[:, 0], peaks(G)
    i, j = int(pred.argmin()), int(true.argmin())
    print(
        f"network {net}: train MSE {result.train_mse:.4g}, validation MSE {result.val_mse:.4g} "
        f"(variance of y {y.var():.4g})"
    )
    print(
        f"grid 301 x 301: max |error| {np.abs(pred - true).max():.3f}, RMSE "
        f"{np.sqrt(np.mean((pred - true) ** 2)):.4f}"
    )
    print(
        f"surrogate minimum {pred[i]:.4f} at {G[i].round(3)}; true minimum {true[j]:.4f} at "
        f"{G[j].round(3)}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_onnx(net, args.out)
    print(f"wrote {args.out}")
    if args.out.resolve() == DEFAULT_OUT.resolve():
        copy = ROOT / "examples" / "data" / "peaks.onnx"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.out, copy)
        print(f"copied to {copy}")


if __name__ == "__main__":
    main()
