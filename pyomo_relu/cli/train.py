"""``pyomo-relu train``: train a ReLU network on CSV data and save it as ONNX.

Example::

    pyomo-relu train data.csv --inputs x,y --outputs f --hidden 25,25 --l1 1e-4 -o net.onnx
    pyomo-relu train data.csv --inputs x,y --outputs f --bound-width 1e-3 --lp-gap 0.01 -o net.onnx

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

from ..errors import DataError, UnknownOptionError

HELP = "train a ReLU network on CSV data (needs the train extra) and save it as ONNX"


class DataFileError(DataError):
    """A CSV data file cannot be used: not UTF-8 text, no data rows, a cell missing or not a finite
    number."""


def _names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, found {text!r}")
    return names


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 25,25, found {text!r}"
        ) from None
    if not widths:
        raise argparse.ArgumentTypeError(
            f"expected at least one hidden layer width such as 25,25, found {text!r}"
        )
    if any(w <= 0 for w in widths):
        raise argparse.ArgumentTypeError(f"hidden layer widths must be positive, found {text!r}")
    return widths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="CSV file with a header row")
    parser.add_argument(
        "--inputs", type=_names, required=True, metavar="COL[,COL..]", help="input columns"
    )
    parser.add_argument(
        "--outputs", type=_names, required=True, metavar="COL[,COL..]", help="output columns"
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="NET.onnx", help="ONNX file to write"
    )
    parser.add_argument(
        "--hidden",
        type=_widths,
        default=(25, 25),
        metavar="N[,N..]",
        help="hidden layer widths (default 25,25)",
    )
    parser.add_argument(
        "--activation",
        choices=("relu", "clipped_relu"),
        default="relu",
        help="hidden activation (default relu)",
    )
    parser.add_argument(
        "--cap",
        type=float,
        default=1.0,
        help="cap of the clipped ReLU, standardized units (default 1)",
    )
    parser.add_argument(
        "--l1", type=float, default=0.0, help="L1 penalty on the weights (default 0)"
    )
    parser.add_argument(
        "--l2", type=float, default=0.0, help="L2 penalty on the weights (default 0)"
    )
    parser.add_argument(
        "--stability",
        type=float,
        default=0.0,
        help="weight of the ReLU-stability loss over the data's input box (default 0)",
    )
    parser.add_argument(
        "--bound-width",
        type=float,
        default=0.0,
        help="weight of the summed interval-bound widths of the hidden neurons over the data's "
        "input box, standardized units (default 0)",
    )
    parser.add_argument(
        "--lp-gap",
        type=float,
        default=0.0,
        help="weight of the mean LP relaxation gap at training points, standardized units "
        "(default 0; relu only)",
    )
    parser.add_argument(
        "--lp-gap-samples",
        type=int,
        default=8,
        help="minibatch points whose gap LPs are solved per step (default 8)",
    )
    parser.add_argument(
        "--lp-gap-every",
        type=int,
        default=1,
        help="add the LP gap term every N-th step (default 1: every step)",
    )
    parser.add_argument(
        "--dropout", type=float, default=0.0, help="dropout probability (default 0)"
    )
    parser.add_argument("--epochs", type=int, default=200, help="training epochs (default 200)")
    parser.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    parser.add_argument(
        "--validation", type=float, default=0.2, help="held-out fraction (default 0.2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")


def read_columns(path: Path, columns: list[str]) -> np.ndarray:
    """The named columns of a CSV file with a header row, as float64 (n_rows, len(columns)).

    The file is read as UTF-8 (a byte-order mark is ignored); blank lines are skipped.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is not a file.
    UnknownOptionError
        If a column is not in the header (the message lists the available ones), or a
        requested column name appears more than once in the header.
    DataFileError
        If the file is not UTF-8 text or not valid CSV, a cell of a requested column is
        missing, not a number, NaN or infinite, or there are no data rows.
    """
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "not found"
        raise FileNotFoundError(
            f"data file {str(path)!r} {what}; pass the path of a CSV file with a header row"
        )
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return _parse(path, csv.reader(fh), columns)
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{path.name}: not UTF-8 text (byte {exc.start} cannot be decoded); save the file as "
            "UTF-8 CSV"
        ) from None
    except csv.Error as exc:
        raise DataFileError(
            f"{path.name}: not a readable CSV file ({exc}); save it as comma-separated text"
        ) from None


def _parse(path: Path, reader, columns: list[str]) -> np.ndarray:
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in columns if c not in header]
    if missing:
        hint = (
            "; the file must be comma-separated"
            if len(header) == 1 and any(d in header[0] for d in ";\t")
            else ""
        )
        raise UnknownOptionError(
            f"{path.name}: column(s) {', '.join(map(repr, missing))} not found; "
            f"available columns: {', '.join(header) or '(no header row)'}{hint}"
        )
    twice = [c for c in dict.fromkeys(columns) if header.count(c) > 1]
    if twice:
        raise UnknownOptionError(
            f"{path.name}: column(s) {', '.join(map(repr, twice))} appear more than once in the "
            "header; "
            "give every column a unique name"
        )
    index = [header.index(c) for c in columns]
    rows = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = []
        for name, i in zip(columns, index):
            cell = row[i].strip() if i < len(row) else ""
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or not np.isfinite(value):
                found = "missing" if not cell else f"{cell!r}"
                raise DataFileError(
                    f"{path.name} line {line}, column {name!r}: expected a finite number, found "
                    f"{found}; "
                    "fix or remove that row"
                )
            values.append(value)
        rows.append(values)
    if not rows:
        raise DataFileError(
            f"{path.name}: no data rows below the header; add at least 2 rows of numbers"
        )
    return np.array(rows, dtype=np.float64)


def _check_columns(inputs: list[str], outputs: list[str]) -> None:
    for what, names in (("--inputs", inputs), ("--outputs", outputs)):
        twice = sorted({c for c in names if names.count(c) > 1})
        if twice:
            raise UnknownOptionError(
                f"{what} names column(s) {', '.join(map(repr, twice))} twice; list each once"
            )
    both = [c for c in inputs if c in outputs]
    if both:
        raise UnknownOptionError(
            f"column(s) {', '.join(map(repr, both))} are both an input and an output; "
            "a network that predicts its own input is a mistake: choose different --inputs or "
            "--outputs"
        )


def _check_output(path: Path, data: Path) -> None:
    """Fail before training when the ONNX file cannot be written there, or would overwrite the
    data."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_file() and data.is_file() and path.samefile(data):
        raise FileExistsError(
            f"output {str(path)!r} is the data file, which would be overwritten; "
            "pass another -o path such as 'net.onnx'"
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"output {str(path)!r} is a folder; pass a file name such as {str(path / 'net.onnx')!r}"
        )
    if not folder.is_dir():
        raise FileNotFoundError(
            f"output folder {str(folder)!r} does not exist (or is not a folder); create it or "
            "pass another -o path"
        )


def run(args: argparse.Namespace) -> int:
    from ..network import ReluNetwork

    try:
        # check the columns, the output path and the data first: a mistake fails fast, before torch
        # is
        # imported and before minutes of training
        _check_columns(list(args.inputs), list(args.outputs))
        _check_output(args.output, args.data)
        data = read_columns(args.data, list(args.inputs) + list(args.outputs))
        from ..io.onnx import save_onnx
        from ..training import train_mlp

        n_in = len(args.inputs)
        result = train_mlp(
            data[:, :n_in],
            data[:, n_in:],
            hidden=args.hidden,
            activation=args.activation,
            cap=args.cap,
            l1=args.l1,
            l2=args.l2,
            stability=args.stability,
            bound_width=args.bound_width,
            lp_gap=args.lp_gap,
            lp_gap_samples=args.lp_gap_samples,
            lp_gap_every=args.lp_gap_every,
            dropout=args.dropout,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            validation=args.validation,
            verbose=args.progress,
        )
    except (
        ImportError,
        ValueError,
    ) as exc:  # no torch; bad data, unknown column names or option values
        print(f"pyomo-relu train: error: {exc}", file=sys.stderr)
        return 2
    net = ReluNetwork(result.network.layers, input_names=args.inputs, output_names=args.outputs)
    try:
        save_onnx(net, args.output)
    except OSError as exc:  # e.g. the folder was removed or became read-only while training
        print(
            f"pyomo-relu train: error: cannot write {str(args.output)!r} ({exc.strerror or exc}); "
            "pass a writable -o path",
            file=sys.stderr,
        )
        return 2
    print(f"trained {net} on {data.shape[0]} rows of {args.data.name}")
    print(
        f"train MSE {result.train_mse:.6g}, validation MSE {result.val_mse:.6g} (physical units, "
        "mean over outputs)"
    )
    print(f"wrote {args.output}")
    return 0
