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

from ..errors import ReluError

#: subcommand name -> module; modules are imported only when the command runs
#: or when the parser is built, so a heavy dependency (torch) is only needed
#: for the command that uses it.
COMMANDS = ("demo", "analyze", "solve", "train", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:  # e.g. `pyomo-relu solve ... | head`: the reader went away
        sys.stderr.close()
        return 0
    except (ReluError, OSError) as exc:  # missing files, full disks, permissions: one line, no traceback
        print(f"pyomo-relu {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pyomo-relu {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
