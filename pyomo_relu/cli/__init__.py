"""The ``pyomo-relu`` command.

Each subcommand lives in its own module ``pyomo_relu.cli.<name>`` that defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Errors of the package (``ReluError``) and missing or unreadable files are printed as one
line on stderr with exit code 2; nothing else is swallowed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from contextlib import contextmanager

from ..errors import ReluError

#: subcommand name -> module; modules are imported only when the command runs
#: or when the parser is built, so a heavy dependency (torch) is only needed
#: for the command that uses it.
COMMANDS = ("demo", "analyze", "solve", "train", "bench")

#: options whose value may start with a minus sign: a list such as ``-3,-2`` or a number such
#: as ``-1e-3``, which argparse would otherwise read as an unknown option
SIGNED_OPTIONS = ("--lb", "--ub")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like the commands' own errors.

    argparse prints the whole usage block before the message; the message names
    the argument already, and ``--help`` shows the usage.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pyomo-relu",
        description="Optimize over trained ReLU networks with Pyomo and SCIP.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def attach_signed_values(argv: list[str]) -> list[str]:
    """Write ``--lb -3,-2`` as ``--lb=-3,-2`` before argparse sees it.

    argparse reads a token that starts with ``-`` as an option unless it looks like a
    plain negative number such as ``-3``, so ``--lb -3,-2`` and ``--lb -1e-3`` fail with
    "expected one argument".  A token after ``--lb``/``--ub`` is attached only when it
    reads as numbers, so a forgotten value (``--lb --ub 1``) is still reported as missing.
    """
    out, i = [], 0
    while i < len(argv):
        token = argv[i]
        if token == "--":  # everything after it is positional
            return out + argv[i:]
        if token in SIGNED_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            try:
                [float(v) for v in argv[i + 1].split(",")]
            except ValueError:
                pass
            else:
                out.append(f"{token}={argv[i + 1]}")
                i += 2
                continue
        out.append(token)
        i += 1
    return out


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(attach_signed_values(list(sys.argv[1:] if argv is None else argv)))
    try:
        with _one_line_warnings(args.command):
            return int(args._run(args) or 0)
    except BrokenPipeError:  # e.g. `pyomo-relu solve ... | head`: the reader went away
        sys.stderr.close()
        return 0
    except (
        ReluError,
        OSError,
    ) as exc:  # missing files, full disks, permissions: one line, no traceback
        print(f"pyomo-relu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pyomo-relu {args.command}: interrupted", file=sys.stderr)
        return 130


@contextmanager
def _one_line_warnings(command: str):
    """Print warnings (e.g. a time limit that cut the tightening short) as one line, like the
    errors.

    Only the format changes, not where warnings go, so callers that record them
    (``warnings.catch_warnings(record=True)``) still get them.
    """
    original = warnings.formatwarning
    warnings.formatwarning = lambda message, *_args, **_kwargs: (
        f"pyomo-relu {command}: warning: {message}\n"
    )
    try:
        yield
    finally:
        warnings.formatwarning = original


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
