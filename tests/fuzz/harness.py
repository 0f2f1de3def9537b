"""Fuzz harness for the input boundaries of pyomo_relu: ``load_onnx``, the CLI, the block.

Every case runs in a worker process (spawned once and restarted after a crash or a hang) with
a per-case time limit and an address-space limit, so a segfault, an endless loop or a huge
allocation is recorded as an outcome instead of stopping the run.  Outcomes:

``loaded-and-correct``
    ``load_onnx`` read the mutated file and the network matches onnxruntime's forward pass;
    for the CLI and the block: the input was accepted and the result checked.
``clear error``
    a package error (:class:`pyomo_relu.errors.ReluError`) whose message names the function
    or component; for the CLI: exit code 2 with one ``error:`` line and no traceback.
``loaded, onnxruntime rejects``
    ``load_onnx`` read a file that onnxruntime refuses (a lenient reading, listed for review).
``crash``, ``hang``, ``unclear error``, ``wrong``
    a dead worker, a case over its time limit, any other exception (or a message that names
    nothing), and a network that differs from onnxruntime's (or an accepted block input whose
    box is not the variables' box).

Run a larger budget with::

    python -m tests.fuzz.harness --cases 2000          # every boundary, 2000 cases each
    python -m tests.fuzz.harness --boundary onnx --cases 5000 --seed 7 --show 20
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass, field

OK, CLEAR, ORT_REJECTS = "loaded-and-correct", "clear error", "loaded, onnxruntime rejects"
CRASH, HANG, UNCLEAR, WRONG = "crash", "hang", "unclear error", "wrong"
#: a worker's message that load_onnx returned and the check against onnxruntime starts
LOADED = "loaded"
#: outcomes that are failures of the package
BAD = (CRASH, HANG, UNCLEAR, WRONG)
#: the worker's address space: a declared dimension of 10**12 must not be allocated
MEMORY_LIMIT = 3 * 2**30
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Result:
    """Outcome of one case, with the exception type and message (or other detail)."""

    boundary: str
    name: str
    outcome: str
    detail: str = ""


@dataclass
class Report:
    """All results of a run and their counts per boundary and outcome."""

    results: list = field(default_factory=list)

    def counts(self, boundary=None) -> collections.Counter:
        return collections.Counter(
            r.outcome for r in self.results if boundary in (None, r.boundary)
        )

    def bad(self) -> list:
        return [r for r in self.results if r.outcome in BAD]

    def messages(self) -> list[tuple[int, str, str]]:
        """``(count, an example case, its message)`` per kind of clear error message (names and
        numbers masked), most frequent first: what users read, for review."""
        groups, examples = collections.Counter(), {}
        for r in self.results:
            if r.outcome == CLEAR:
                key = re.sub(r"'[^']*'|\[[^\]]*\]|-?\d+(\.\d+)?(e-?\d+)?", "_", r.detail)[:100]
                groups[key] += 1
                examples.setdefault(key, r)
        return [(k, examples[key].name, examples[key].detail) for key, k in groups.most_common()]

    def format(self, show: int = 10, listed=()) -> str:
        lines = []
        for boundary in dict.fromkeys(r.boundary for r in self.results):
            counts = self.counts(boundary)
            total = sum(counts.values())
            parts = ", ".join(f"{k}: {counts.get(k, 0)}" for k in (OK, CLEAR, ORT_REJECTS, *BAD))
            lines.append(f"{boundary:6s} {total:5d} cases  {parts}")
        for r in [r for r in self.results if r.outcome in (*BAD, *listed)][:show]:
            lines.append(f"  {r.outcome}: [{r.boundary}] {r.name}: {r.detail[:400]}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------- the worker
def _worker_main(conn, memory_limit):
    """Run cases received on ``conn`` until None arrives; send each case's messages back."""
    sys.path.insert(0, ROOT)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # solver logs and progress bars written by C code
    os.dup2(devnull, 2)
    import warnings

    warnings.simplefilter("ignore")
    from tests.fuzz import checks

    while True:
        case = conn.recv()
        if case is None:
            return
        boundary, payload = case
        for message in checks.RUNNERS[boundary](payload):
            conn.send(message)
        conn.send(None)


class Runner:
    """A worker process that runs cases with a time limit each; restarted when it dies."""

    def __init__(self, timeout: float, memory_limit: int = MEMORY_LIMIT):
        self.timeout, self.memory_limit = timeout, memory_limit
        self.ctx = multiprocessing.get_context("spawn")
        self.proc = None

    def _start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(
            target=_worker_main, args=(child, self.memory_limit), daemon=True
        )
        self.proc.start()
        child.close()

    def _stop(self, kill: bool):
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(5)
        if self.proc.is_alive():  # pragma: no cover - a worker that ignores the end
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        self.proc = None

    def close(self):
        self._stop(kill=False)

    def run(self, boundary: str, name: str, payload) -> Result:
        """Run one case; the last message of the worker decides the outcome."""
        if self.proc is None:
            self._start()
        self.conn.send((boundary, payload))
        deadline, last = time.monotonic() + self.timeout, None
        while True:
            left = deadline - time.monotonic()
            try:
                ready = self.conn.poll(max(left, 0))
            except OSError:
                ready = True
            if not ready:
                self._stop(kill=True)
                phase = f" while {last[2]}" if last else ""
                return Result(boundary, name, HANG, f"over {self.timeout:g} s{phase}")
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                self.proc.join(1)
                code = self.proc.exitcode
                self._stop(kill=True)
                if last is not None and last[0] == LOADED:
                    # load_onnx finished; onnxruntime died while checking the network
                    return Result(boundary, name, ORT_REJECTS, f"onnxruntime died ({code})")
                phase = f" while {last[2]}" if last else ""
                return Result(boundary, name, CRASH, f"worker exit code {code}{phase}")
            if message is None:
                return Result(boundary, name, last[0], last[1])
            last = message


def run_cases(cases, *, timeout: float = 30.0) -> Report:
    """Run ``(boundary, name, payload)`` cases in one worker; return the report."""
    report, runner = Report(), Runner(timeout)
    try:
        for boundary, name, payload in cases:
            report.results.append(runner.run(boundary, name, payload))
    finally:
        runner.close()
    return report


def all_cases(boundaries, n: int, seed: int):
    """``n`` cases of each boundary, reproducible from ``seed``."""
    from tests.fuzz import block_cases, cli_cases, onnx_cases

    makers = {
        "onnx": onnx_cases.onnx_cases,
        "cli": cli_cases.cli_cases,
        "block": block_cases.block_cases,
    }
    for boundary in boundaries:
        for name, payload in makers[boundary](n, seed):
            yield boundary, name, payload


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.harness", description=__doc__)
    parser.add_argument("--cases", type=int, default=500, help="cases per boundary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--boundary", choices=("onnx", "cli", "block", "all"), default="all", action="store"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case")
    parser.add_argument("--show", type=int, default=30, help="failures to print")
    parser.add_argument(
        "--list",
        action="append",
        default=[],
        choices=(OK, CLEAR, ORT_REJECTS),
        help="also print cases with this outcome (repeatable)",
    )
    parser.add_argument(
        "--messages", action="store_true", help="print one example of each kind of clear error"
    )
    args = parser.parse_args(argv)
    boundaries = ("onnx", "cli", "block") if args.boundary == "all" else (args.boundary,)
    start = time.perf_counter()
    try:
        report = run_cases(all_cases(boundaries, args.cases, args.seed), timeout=args.timeout)
    except Exception:  # pragma: no cover - a broken harness
        traceback.print_exc()
        return 3
    print(report.format(show=args.show, listed=args.list))
    if args.messages:
        for count, name, detail in report.messages():
            print(f"{count:5d} | {name[:60]} | {detail[:300]}")
    print(f"{len(report.results)} cases in {time.perf_counter() - start:.0f} s")
    return 1 if report.bad() else 0


if __name__ == "__main__":
    sys.exit(main())
