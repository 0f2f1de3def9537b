"""``pyomo-relu train``: train a ReLU network on CSV data and save it as ONNX.

Example::

    pyomo-relu train data.csv --inputs x,y --outputs f --hidden 25,25 --l1 1e-4 -o net.onnx

The CSV file needs a header row; the named columns must hold numbers.  Inputs
and outputs are standardized during training and the scaling is folded into
the saved network, which therefore works in the units of the CSV file.  Needs
the ``train`` extra (PyTorch).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from ..errors import UnknownOptionError

HELP = "train a ReLU network on CSV data (needs the train extra) and save it as ONNX"


def _names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, found {text!r}")
    return names


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 25,25, found {text!r}") from None
    if any(w <= 0 for w in widths):
        raise argparse.ArgumentTypeError(f"hidden layer widths must be positive, found {text!r}")
    return widths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="CSV file with a header row")
    parser.add_argument("--inputs", type=_names, required=True, metavar="COL[,COL..]", help="input columns")
    parser.add_argument("--outputs", type=_names, required=True, metavar="COL[,COL..]", help="output columns")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="NET.onnx", help="ONNX file to write")
    parser.add_argument("--hidden", type=_widths, default=(25, 25), metavar="N[,N..]",
                        help="hidden layer widths (default 25,25)")
    parser.add_argument("--activation", choices=("relu", "clipped_relu"), default="relu",
                        help="hidden activation (default relu)")
    parser.add_argument("--cap", type=float, default=1.0, help="cap of the clipped ReLU, standardized units (default 1)")
    parser.add_argument("--l1", type=float, default=0.0, help="L1 penalty on the weights (default 0)")
    parser.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weights (default 0)")
    parser.add_argument("--stability", type=float, default=0.0,
                        help="weight of the ReLU-stability loss over the data's input box (default 0)")
    parser.add_argument("--dropout", type=float, default=0.0, help="dropout probability (default 0)")
    parser.add_argument("--epochs", type=int, default=200, help="training epochs (default 200)")
    parser.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    parser.add_argument("--validation", type=float, default=0.2, help="held-out fraction (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")


def read_columns(path: Path, columns: list[str]) -> np.ndarray:
    """The named columns of a CSV file with a header row, as float64 (n_rows, len(columns)).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    UnknownOptionError
        If a column is not in the header (the message lists the available ones).
    ValueError
        If a cell of a requested column is not a number, or there are no data rows.
    """
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} not found; pass the path of a CSV file with a header row")
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise UnknownOptionError(
                f"{path.name}: column(s) {', '.join(map(repr, missing))} not found; "
                f"available columns: {', '.join(header) or '(no header row)'}"
            )
        index = [header.index(c) for c in columns]
        rows = []
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                rows.append([float(row[i]) for i in index])
            except (ValueError, IndexError):
                raise ValueError(f"{path.name} line {line}: a value of columns {columns} is missing or not a number") from None
    if not rows:
        raise ValueError(f"{path.name}: no data rows below the header")
    return np.array(rows, dtype=np.float64)


def run(args: argparse.Namespace) -> int:
    from ..network import ReluNetwork

    try:
        # read the data first: a wrong path or column fails fast, before torch is imported
        data = read_columns(args.data, list(args.inputs) + list(args.outputs))
        from ..io.onnx import save_onnx
        from ..training import train_mlp

        n_in = len(args.inputs)
        result = train_mlp(
            data[:, :n_in], data[:, n_in:], hidden=args.hidden, activation=args.activation, cap=args.cap,
            l1=args.l1, l2=args.l2, stability=args.stability, dropout=args.dropout, epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, seed=args.seed, validation=args.validation,
            verbose=args.progress,
        )
    except (ImportError, ValueError) as exc:  # no torch; bad data, unknown column names or option values
        print(f"pyomo-relu train: error: {exc}", file=sys.stderr)
        return 2
    net = ReluNetwork(result.network.layers, input_names=args.inputs, output_names=args.outputs)
    save_onnx(net, args.output)
    print(f"trained {net} on {data.shape[0]} rows of {args.data.name}")
    print(f"train MSE {result.train_mse:.6g}, validation MSE {result.val_mse:.6g} (physical units, mean over outputs)")
    print(f"wrote {args.output}")
    return 0
