"""The package's layering: a Pyomo-free numeric core, no import cycles (docs/architecture.md)."""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ["network", "bounds", "io", "reductions", "analysis", "regions", "heuristics"]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_core_imports_without_pyomo():
    # Pyomo made unimportable: the core must not need it, not even through pyomo_relu/__init__
    mods = ", ".join(f"pyomo_relu.{m}" for m in CORE)
    res = _run(f"import sys; sys.modules['pyomo'] = None; import {mods}; print('ok')")
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_core_computes_bounds_without_loading_pyomo():
    # what a worker process runs: bounds by every core method, and Pyomo never loaded
    res = _run(
        "import sys, numpy as np\n"
        "import pyomo_relu as pr\n"
        "w = [np.ones((3, 2)), np.ones((1, 3))]\n"
        "net = pr.ReluNetwork.from_arrays(w, [np.zeros(3), [0.0]])\n"
        "b = pr.lp_bounds(net, -1, 1)\n"
        "pr.analysis.stable_fraction(b)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyomo', 'omlt')))"
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_modeling_layer_loads_on_first_use_and_registers_transformations():
    # pyomo_relu first, Pyomo later: the transformation is still registered
    res = _run(
        "import pyomo_relu as pr\n"
        "import pyomo.environ as pyo\n"
        "t = pyo.TransformationFactory('relu.tighten_bounds')\n"
        "print(type(t).__name__, pr.ReluNetworkBlock.__name__)"
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["TightenBounds", "ReluNetworkBlock"]
    # a modeling module imported directly (it imports pyomo.environ itself)
    res = _run(
        "from pyomo_relu.block import ReluNetworkBlock\n"
        "import pyomo.environ as pyo\n"
        "print(type(pyo.TransformationFactory('relu.tighten_bounds')).__name__)"
    )
    assert res.returncode == 0 and res.stdout.strip() == "TightenBounds", res.stderr


def test_import_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:  # the test extra installs import-linter; a missing one is a broken setup
        pytest.fail("lint-imports not found: install the test extra (pip install '.[test]')")
    res = subprocess.run(
        [exe, "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def _cycles(graph) -> list:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in graph.modules:
                    continue
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycle_between_any_two_modules():
    # every import counts, including those inside functions
    graph = grimp.build_graph("pyomo_relu")
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]
