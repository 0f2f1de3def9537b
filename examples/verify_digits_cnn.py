"""Verify the shipped 8x8 digits CNN against an L-infinity perturbation of one test image.

Usage::

    python examples/verify_digits_cnn.py [--image 0] [--eps 0.05] [--time-limit 60]
                                         [--variant pool|stride] [--optimal]

The network (``pyomo_relu/data/digits_cnn.onnx``, read by ``pr.load_onnx``:
convolutions become sparse affine layers, the max-pool exact ReLU layers) is
embedded with the ``tightened_bigm`` formulation over the pixel box
``[x0 - eps, x0 + eps]`` clipped to [0, 1].  For every class ``j`` other than
the label ``t``, SCIP maximizes ``logit_j - logit_t`` (``m.nn.margin(t, j)``).
The image is *certified* when every maximum is proved below 0 (SCIP's dual
bound, or the output bounds alone); otherwise the maximizer is a
*counterexample*, checked by the network's forward pass and by onnxruntime
on the ONNX file.  ``--optimal`` solves each margin to optimality instead of
stopping at its sign.
"""

from __future__ import annotations

import argparse

import numpy as np

from pyomo_relu.benchmarks.cnn import NETWORKS, data_path, load_network, load_samples, verify_image


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", type=int, default=0, help="index of a shipped test image")
    parser.add_argument("--eps", type=float, default=0.05, help="L-inf radius on [0, 1] pixels")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per SCIP solve")
    parser.add_argument("--variant", choices=sorted(NETWORKS), default="pool")
    parser.add_argument("--optimal", action="store_true", help="maximize every margin fully")
    args = parser.parse_args(argv)

    X, y = load_samples()
    if not 0 <= args.image < len(X):
        parser.error(f"--image must be in 0..{len(X) - 1}, found {args.image}")
    net = load_network(args.variant)
    x0, label = X[args.image], int(y[args.image])
    predicted = int(np.argmax(net.forward(x0)))
    print(f"image {args.image}: label {label}, predicted {predicted}, eps {args.eps}")
    res = verify_image(
        net,
        x0,
        label,
        args.eps,
        time_limit=args.time_limit,
        onnx_path=data_path(NETWORKS[args.variant]),
        decide=not args.optimal,
    )
    size = res["size"]
    print(
        f"model: {size['rows']} rows, {size['cols']} columns, {size['binaries']} binaries "
        f"(tightening and build {res['build_s']:.2f} s)"
    )
    for p in res["pairs"]:
        line = f"  class {p['target']}: {p['result']:<14} bound {p['bound']:+.4f}"
        if "fwd_margin" in p:
            line += f"  best found {p['objective']:+.4f} (forward pass {p['fwd_margin']:+.4f}"
            line += f", onnxruntime {p['ort_margin']:+.4f})"
        if "nodes" in p:
            line += f"  {p['seconds']:.2f} s, {p['nodes']} nodes"
        print(line)
    print(f"result: {res['result']}")
    if res["result"] == "counterexample":
        worst = max(
            (p for p in res["pairs"] if p["result"] == "counterexample"),
            key=lambda p: p["fwd_margin"],
        )
        x = worst["x"]
        print(
            f"counterexample: class {worst['target']} beats {label} by {worst['fwd_margin']:.4f}, "
            f"max |x - x0| = {np.max(np.abs(x - x0)):.4f}, predicted "
            f"{int(np.argmax(net.forward(x)))}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
