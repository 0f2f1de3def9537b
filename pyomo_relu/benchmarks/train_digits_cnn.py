"""Train the small digits CNNs shipped in ``pyomo_relu/data`` (seeded, CPU, well under a minute).

Run with ``python -m pyomo_relu.benchmarks.train_digits_cnn [--out DIR]``.  The
data is scikit-learn's ``load_digits`` (1797 grey 8x8 images, values 0..16),
scaled to [0, 1] and split 75/25 (seed 0).  Two networks are trained on the
same split with the same seed:

* ``digits_cnn.onnx`` (``pool``): ``Conv2d(1, 4, 3) - MaxPool2d(2) - ReLU -
  Conv2d(4, 8, 2) - ReLU - Reshape(-1, 32) - Linear(32, 32) - ReLU -
  Linear(32, 10)`` (4x6x6, 4x3x3, 8x2x2 feature maps);
* ``digits_cnn_stride.onnx`` (``stride``): the same network with the max-pool
  replaced by a stride of 2 in the first convolution (``Conv2d(1, 4, 3,
  stride=2)``, also 4x3x3), so that the cost of the pool in a MIP can be
  measured on a network of the same shape after the first layer.

The layers are chosen so that OMLT reads the same files: no padding (OMLT's
convolution has none), no convolution biases (OMLT's reader drops them without
a word, so it would model another network), the pool before the ReLU (OMLT's max-pool needs a
linear convolution in front of it; the function is the same, since ReLU is
monotone), a Reshape instead of Flatten and a free batch axis.

Both are exported with the legacy TorchScript exporter (opset 17) for an input
of shape ``(1, 1, 8, 8)``; the graph output is the 10 logits (no softmax).
``digits_samples.npz`` holds the first 20 test images (``X``, shape (20, 64),
row-major 8x8 in [0, 1]) and their labels ``y``, so that the example and the
tests need no download.  Test accuracies are printed and written to
``digits_cnn.json`` next to the files.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

#: the architectures, by name: (first convolution's stride, max-pool after it)
ARCHITECTURES = {"pool": (1, True), "stride": (2, False)}
#: file name of each architecture's ONNX export
FILES = {"pool": "digits_cnn.onnx", "stride": "digits_cnn_stride.onnx"}
N_SAMPLES = 20
SEED = 0
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def load_split(seed: int = SEED):
    """``(X_train, X_test, y_train, y_test)``: ``load_digits`` in [0, 1], images (n, 1, 8, 8)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return train_test_split(X, digits.target, test_size=0.25, random_state=seed, stratify=None)


def _flatten_module(n: int):
    """A module computing ``x.reshape(-1, n)``: exported as Reshape with a constant shape
    ``[-1, n]``, which OMLT's ONNX reader takes (it has no Flatten)."""
    from torch import nn

    class Flatten(nn.Module):
        def forward(self, x):
            return x.reshape(-1, n)

    return Flatten()


def make_model(arch: str):
    """The torch module of architecture ``arch`` (a key of :data:`ARCHITECTURES`)."""
    from torch import nn

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHITECTURES)}.")
    stride, pool = ARCHITECTURES[arch]
    layers = [nn.Conv2d(1, 4, 3, stride=stride, bias=False)]
    if pool:
        # max-pool before the ReLU: the same function as after it (ReLU is monotone), and the
        # order OMLT's max-pool formulation requires (a linear convolution before the pool)
        layers.append(nn.MaxPool2d(2))
    layers += [
        nn.ReLU(),
        nn.Conv2d(4, 8, 2, bias=False),
        nn.ReLU(),
        _flatten_module(8 * 2 * 2),
        nn.Linear(8 * 2 * 2, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    ]
    return nn.Sequential(*layers)


def train(arch: str, *, epochs: int = 80, seed: int = SEED):
    """Train architecture ``arch`` with Adam on the fixed split; ``(model, test accuracy)``."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    X_train, X_test, y_train, y_test = load_split(seed)
    xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train).long()
    model = make_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(X_test)).argmax(1).numpy()
    return model, float(np.mean(pred == y_test))


def export(model, path: Path) -> None:
    """Write ``model`` to ``path`` with the legacy ONNX exporter (opset 17, input (1, 1, 8, 8))."""
    import torch

    dummy = torch.zeros(1, 1, 8, 8)
    with warnings.catch_warnings():  # the legacy exporter is chosen on purpose (opset 17)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            # a free batch axis: OMLT reads the fixed axes (1, 8, 8) as the input's shape
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="directory of the files")
    parser.add_argument("--epochs", type=int, default=80)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = {}
    for arch, name in FILES.items():
        start = time.perf_counter()
        model, acc = train(arch, epochs=args.epochs)
        export(model, args.out / name)
        facts[name] = {"test_accuracy": round(acc, 4)}
        print(f"{name}: test accuracy {acc:.4f} ({time.perf_counter() - start:.1f} s)")
    _, X_test, _, y_test = load_split()
    np.savez_compressed(
        args.out / "digits_samples.npz",
        X=X_test[:N_SAMPLES].reshape(N_SAMPLES, 64).astype(np.float64),
        y=y_test[:N_SAMPLES].astype(np.int64),
    )
    (args.out / "digits_cnn.json").write_text(json.dumps(facts, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
