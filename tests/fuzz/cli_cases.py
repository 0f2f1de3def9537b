"""Odd command lines for fuzzing ``pyomo-relu`` (``pyomo_relu.cli.main``).

A case is a valid command line of one subcommand with one to three mutations: a value
replaced by a negative, zero, NaN, infinite, huge, empty or non-numeric one, bounds lists of
the wrong length or crossed, unknown or repeated flags, dropped tokens, and paths replaced by
missing files, directories, empty files, text, zip archives, truncated models or unusable CSV
files.  ``{tmp}`` in a token stands for the case's folder, which holds the files of
:data:`FILES`.  ``bench`` cases always carry one bad value, so that none runs the suite.
"""

from __future__ import annotations

import numpy as np

from tests.fuzz.onnx_cases import PEAKS


def _csv() -> bytes:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(40, 2))
    rows = ["a,b,y"] + [f"{p:.4f},{q:.4f},{p * q:.4f}" for p, q in x]
    return ("\n".join(rows) + "\n").encode()


with open(PEAKS, "rb") as _fh:
    _PEAKS = _fh.read()

FILES = {
    "net.onnx": _PEAKS,
    "empty.onnx": b"",
    "dir": "DIR",
    "text.onnx": b"this is not a model\n",
    "zip.onnx": b"PK\x03\x04" + bytes(60),
    "trunc.onnx": _PEAKS[:200],
    "data.csv": _csv(),
    "empty.csv": b"",
    "header.csv": b"a,b,y\n",
    "words.csv": b"a,b,y\n1,x,2\n3,4,z\n",
    "nan.csv": b"a,b,y\n1,nan,2\n3,4,inf\n1,2,3\n",
    "ragged.csv": b"a,b,y\n1,2\n3,4,5,6\n",
}
PATHS = (
    "{tmp}/net.onnx",
    "{tmp}/nope.onnx",
    "{tmp}/dir",
    "{tmp}/empty.onnx",
    "{tmp}/text.onnx",
    "{tmp}/zip.onnx",
    "{tmp}/trunc.onnx",
    "{tmp}/data.csv",
    "{tmp}/empty.csv",
    "{tmp}/header.csv",
    "{tmp}/words.csv",
    "{tmp}/nan.csv",
    "{tmp}/ragged.csv",
    "{tmp}/no/such/folder/out.json",
    "",
    "/dev/null",
)
VALUES = (
    "-1",
    "0",
    "-0",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "1e20",
    "-1e30",
    "abc",
    "",
    " ",
    "1,2,3",
    "3,",
    ",",
    "-3,-3,-3",
    "3,-3",
    "0x10",
    "\u0663",
    "1_000",
    "true",
    "-",
    "--",
    "2.5",
    "1e-300",
    "y",
    "99",
)
FLAGS = (
    "--bogus",
    "-z",
    "--lb",
    "--ub",
    "--time-limit",
    "--workers",
    "--json",
    "--help-me",
    "--minimize",
    "--maximize",
    "--formulation",
    "--tighten",
    "-o",
)

BASES = {
    "solve": [
        "solve",
        "{tmp}/net.onnx",
        "--minimize",
        "0",
        "--lb",
        "-3",
        "--ub",
        "3",
        "--quiet",
        "--time-limit",
        "5",
        "--json",
        "{tmp}/out.json",
    ],
    "analyze": [
        "analyze",
        "{tmp}/net.onnx",
        "--lb",
        "-3,-3",
        "--ub",
        "3,3",
        "--samples",
        "200",
        "--regions-time-limit",
        "2",
        "--tighten-time-limit",
        "2",
        "--json",
        "{tmp}/out.json",
    ],
    "demo": ["demo", "--grid", "11", "--time-limit", "5", "--formulation", "bigm"],
    "train": [
        "train",
        "{tmp}/data.csv",
        "--inputs",
        "a,b",
        "--outputs",
        "y",
        "-o",
        "{tmp}/out.onnx",
        "--epochs",
        "2",
        "--hidden",
        "4",
    ],
    "bench": [
        "bench",
        "--quick",
        "--problems",
        "peaks",
        "--variants",
        "plain",
        "--time-limit",
        "1",
        "--out",
        "{tmp}/bench",
        "--cache",
        "{tmp}/cache",
    ],
}
#: values of bench that make it refuse to run before any work
_BENCH_BAD = (
    ("--problems", "nosuch"),
    ("--problems", ""),
    ("--variants", "nosuch"),
    ("--configs", "nosuch"),
    ("--time-limit", "-1"),
    ("--time-limit", "nan"),
    ("--time-limit", "0"),
    ("--time-limit", "abc"),
    ("--out", "{tmp}/net.onnx"),
    ("--cache", "{tmp}/net.onnx"),
)


def _mutate(rng, argv: list[str]) -> str:
    choice = int(rng.integers(7))
    i = int(rng.integers(1, len(argv))) if len(argv) > 1 else 0
    if choice == 0:  # a value replaced
        argv[i] = VALUES[int(rng.integers(len(VALUES)))]
        return f"value[{i}]={argv[i]!r}"
    if choice == 1:  # a path replaced
        spots = [k for k, t in enumerate(argv) if "{tmp}" in t] or [i]
        k = spots[int(rng.integers(len(spots)))]
        argv[k] = PATHS[int(rng.integers(len(PATHS)))]
        return f"path[{k}]={argv[k]!r}"
    if choice == 2:  # a token dropped
        return f"drop[{i}]={argv.pop(i)!r}"
    if choice == 3:  # a flag added, with or without a value
        flag = FLAGS[int(rng.integers(len(FLAGS)))]
        extra = [flag] + ([VALUES[int(rng.integers(len(VALUES)))]] if rng.random() < 0.6 else [])
        argv[i:i] = extra
        return f"insert[{i}]={extra!r}"
    if choice == 4:  # the first option value given twice, the second odd
        argv.extend([argv[i], VALUES[int(rng.integers(len(VALUES)))]])
        return f"repeat={argv[-2:]!r}"
    if choice == 5:  # crossed bounds or a list of the wrong length
        pairs = [("3", "-3"), ("-3,-3,-3", "3,3,3"), ("-3", "3,3,3"), ("1,1", "1,1"), ("0", "0")]
        lb, ub = pairs[int(rng.integers(len(pairs)))]
        for flag, value in (("--lb", lb), ("--ub", ub)):
            if flag in argv and argv.index(flag) + 1 < len(argv):
                argv[argv.index(flag) + 1] = value
        return f"bounds={lb!r},{ub!r}"
    j = int(rng.integers(1, len(argv))) if len(argv) > 1 else 0
    argv[i], argv[j] = argv[j], argv[i]
    return f"swap[{i},{j}]"


def cli_cases(n: int, seed: int = 0) -> list[tuple[str, tuple]]:
    """``n`` command lines as ``(description, (argv template, files))``."""
    rng = np.random.default_rng(seed + 1)
    commands = list(BASES)
    cases = []
    for c in range(n):
        command = commands[c % len(commands)]
        argv = list(BASES[command])
        steps = [_mutate(rng, argv) for _ in range(int(rng.integers(1, 4)))]
        if command == "bench":
            flag, value = _BENCH_BAD[int(rng.integers(len(_BENCH_BAD)))]
            argv.extend([flag, value])
            steps.append(f"{flag}={value!r}")
        cases.append((f"{command}: {' '.join(steps)}", (argv, FILES)))
    return cases
