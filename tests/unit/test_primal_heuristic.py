"""pyomo_relu.heuristics: forward-pass sampling and the activation-pattern LP local search."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyomo_relu.errors import InfeasibleBoxError, MissingBoundsError, ShapeMismatchError
from pyomo_relu.heuristics import (
    OFF,
    ON,
    SATURATED,
    LinearObjective,
    affine_maps,
    evaluate,
    polish,
    search,
    solve_pattern_lp,
)
from tests.conftest import random_network

ROOT = Path(__file__).resolve().parents[2]


def _preacts(net, x):
    a, out = np.atleast_2d(x), []
    for layer in net.layers:
        z = a @ layer.weights.T + layer.bias
        out.append(z[0])
        a = layer.activation.apply(z)
    return out


def test_evaluate_is_the_forward_pass_and_reports_the_pattern():
    net = random_network((3, 7, 5, 2), seed=2, clipped=True, cap=0.5)
    x = np.random.default_rng(0).uniform(-1, 1, size=(20, 3))
    obj = LinearObjective([1.0, -2.0], [0.5, 0.0, 1.0], constant=3.0)
    cands = evaluate(net, x, obj)
    y = net.forward(x)
    for i, c in enumerate(cands):
        assert np.allclose(c.outputs, y[i], rtol=0, atol=1e-12)
        assert c.objective == pytest.approx(y[i] @ [1, -2] + x[i] @ [0.5, 0, 1] + 3.0, abs=1e-12)
        z = _preacts(net, x[i])
        for k in range(2):  # hidden clipped layers
            want = np.where(z[k] <= 0, OFF, np.where(z[k] >= 0.5, SATURATED, ON))
            assert np.array_equal(c.pattern[k], want)
        assert np.all(c.pattern[2] == ON)  # linear output layer
    assert any((c.pattern[0] == SATURATED).any() for c in cands)


@pytest.mark.parametrize("sparse", [False, True])
def test_affine_maps_reproduce_the_preactivations_on_the_pattern(sparse):
    net = random_network((4, 9, 6, 1), seed=5, clipped=True, cap=1.0)
    if sparse:  # the same network with scipy.sparse CSR weights
        layers = [
            SimpleNamespace(
                weights=sp.csr_matrix(layer.weights),
                bias=layer.bias,
                activation=layer.activation,
                n_out=layer.n_out,
            )
            for layer in net.layers
        ]
        used = SimpleNamespace(layers=layers, n_inputs=net.n_inputs)
    else:
        used = net
    obj = LinearObjective([1.0])
    for x in np.random.default_rng(3).uniform(-1, 1, size=(10, 4)):
        pattern = evaluate(net, x, obj)[0].pattern
        maps = affine_maps(used, pattern)
        for (mat, vec), z in zip(maps, _preacts(net, x)):
            assert np.allclose(mat @ x + vec, z, atol=1e-10)


def test_pattern_lp_optimum_lies_in_the_pattern_and_matches_the_forward_pass():
    net = random_network((2, 10, 10, 1), seed=7)
    obj = LinearObjective([1.0])
    start = evaluate(net, [0.1, -0.2], obj)[0]
    lb, ub = -np.ones(2), np.ones(2)
    res = solve_pattern_lp(net, start.pattern, lb, ub, np.zeros(2), np.array([1.0]))
    assert res.inputs is not None and res.value <= start.objective + 1e-12
    assert np.all(res.inputs >= lb) and np.all(res.inputs <= ub)
    # the LP value is the network's value at the LP optimum (the network is affine there)
    assert net.forward(res.inputs)[0] == pytest.approx(res.value, abs=1e-7)
    for k, z in enumerate(_preacts(net, res.inputs)[:-1]):  # on the pattern, up to tolerance
        piece = start.pattern[k]
        assert np.all(z[piece == OFF] <= 1e-7) and np.all(z[piece == ON] >= -1e-7)


def test_polish_never_worsens_and_ends_in_a_local_optimum_of_its_pattern():
    net = random_network((3, 16, 16, 1), seed=11)
    obj = LinearObjective([1.0])
    lb, ub = -np.ones(3), np.ones(3)
    for x in np.random.default_rng(1).uniform(-1, 1, size=(5, 3)):
        start = evaluate(net, x, obj)[0]
        best = polish(net, start, lb, ub, obj)
        assert best.objective <= start.objective
        assert net.forward(best.inputs)[0] == pytest.approx(best.objective, abs=1e-12)
        again = solve_pattern_lp(net, best.pattern, lb, ub, np.zeros(3), np.array([1.0]))
        assert again.value >= best.objective - 1e-7


@pytest.mark.parametrize("maximize", [False, True])
def test_one_input_search_reaches_the_grid_optimum(maximize):
    # in one dimension the optimum is at a breakpoint: the sample lands in its region, the LP
    # of that region finds it exactly, so the search is at least as good as a fine grid
    net = random_network((1, 20, 20, 1), seed=4)
    grid = np.linspace(-2, 2, 400_001)[:, None]
    vals = net.forward(grid)[:, 0]
    found = search(net, [-2.0], [2.0], LinearObjective([1.0], maximize=maximize), samples=2000)
    if maximize:
        assert found.best.objective >= vals.max() - 1e-9
    else:
        assert found.best.objective <= vals.min() + 1e-9
    assert net.forward(found.best.inputs)[0] == pytest.approx(found.best.objective, abs=1e-12)


def test_local_search_improves_on_a_small_sample():
    net = random_network((5, 32, 32, 32, 1), seed=3)
    obj = LinearObjective([1.0])
    lb, ub = -np.ones(5), np.ones(5)
    found = search(net, lb, ub, obj, samples=64, keep=3, time_limit=None)
    sampled = min(c.objective for c in evaluate(net, found.best.inputs[None, :], obj))
    assert found.lps >= 1 and found.improved_by_lp >= 1
    assert found.best.objective == pytest.approx(sampled, abs=0)
    # better than the best of the sampled points themselves
    rng = np.random.default_rng(0)
    x = lb + rng.random((64, 5)) * (ub - lb)
    assert found.best.objective < net.forward(x)[:, 0].min()


def test_input_constraints_hold_at_the_result():
    net = random_network((2, 12, 12, 1), seed=9)
    obj = LinearObjective([1.0], [0.0, 0.0])
    a = np.array([[1.0, 1.0], [1.0, -1.0]])
    cons = (a, np.array([-np.inf, -0.2]), np.array([0.3, np.inf]))
    found = search(net, -np.ones(2), np.ones(2), obj, constraints=cons, samples=5000)
    x = found.best.inputs
    assert found.best.violation == 0.0
    assert x[0] + x[1] <= 0.3 + 1e-9 and x[0] - x[1] >= -0.2 - 1e-9
    g = np.linspace(-1, 1, 801)
    pts = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    ok = (pts.sum(axis=1) <= 0.3) & (pts[:, 0] - pts[:, 1] >= -0.2)
    assert found.best.objective <= net.forward(pts[ok])[:, 0].min() + 1e-9
    sparse = search(
        net, -np.ones(2), np.ones(2), obj, constraints=(sp.csr_matrix(a), *cons[1:]), samples=5000
    )
    assert sparse.best.objective == pytest.approx(found.best.objective, abs=1e-9)


def test_given_points_are_evaluated():
    net = random_network((2, 8, 1), seed=1)
    obj = LinearObjective([1.0])
    grid = np.linspace(-1, 1, 201)
    pts = np.array(np.meshgrid(grid, grid)).reshape(2, -1).T
    best = pts[np.argmin(net.forward(pts)[:, 0])]
    found = search(net, -np.ones(2), np.ones(2), obj, points=[best], samples=1)
    assert found.best.objective <= net.forward(best)[0] + 1e-12


def test_bad_input_is_named():
    net = random_network((2, 4, 1), seed=1)
    obj = LinearObjective([1.0])
    with pytest.raises(ShapeMismatchError, match="2 lower and upper bounds, found 3 and 2"):
        search(net, [0, 0, 0], [1, 1], obj)
    with pytest.raises(MissingBoundsError, match="input box must be finite"):
        search(net, [0, -np.inf], [1, 1], obj)
    with pytest.raises(InfeasibleBoxError, match="input 1 has lower bound 2.0 above"):
        search(net, [0, 2], [1, 1], obj)
    with pytest.raises(ShapeMismatchError, match="expected 1 output and 2 input coefficients"):
        search(net, [0, 0], [1, 1], LinearObjective([1.0, 2.0]))
    with pytest.raises(ShapeMismatchError, match="A of shape \\(m, 2\\)"):
        search(net, [0, 0], [1, 1], obj, constraints=(np.ones((1, 3)), [0.0], [1.0]))


def test_the_heuristics_core_imports_without_pyomo():
    code = (
        "import sys; sys.modules['pyomo'] = None\n"
        "import numpy as np, pyomo_relu.heuristics as h\n"
        "from pyomo_relu.network import ReluNetwork\n"
        "net = ReluNetwork.from_arrays([np.ones((3, 2)), np.ones((1, 3))], [np.zeros(3), [0.0]])\n"
        "r = h.search(net, [-1, -1], [1, 1], h.LinearObjective([1.0]), samples=100)\n"
        "print(round(r.best.objective, 9))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0.0"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_in=st.integers(1, 4),
    hidden=st.lists(st.integers(2, 10), min_size=1, max_size=3),
    clipped=st.booleans(),
    maximize=st.booleans(),
)
def test_generated_networks_the_objective_is_attained_at_the_returned_input(
    seed, n_in, hidden, clipped, maximize
):
    net = random_network((n_in, *hidden, 2), seed=seed, clipped=clipped)
    rng = np.random.default_rng(seed)
    obj = LinearObjective(rng.normal(size=2), rng.normal(size=n_in), 0.5, maximize)
    lb, ub = -np.ones(n_in), np.ones(n_in)
    found = search(net, lb, ub, obj, samples=500, keep=2, seed=seed)
    for c in found.candidates:
        assert np.all(c.inputs >= lb) and np.all(c.inputs <= ub)
        y = net.forward(c.inputs)
        assert np.array_equal(c.outputs, y)
        assert c.objective == pytest.approx(obj.checked(net).values(c.inputs, y), abs=1e-12)
    # at least as good as every corner of the box (all are evaluated); up to the rounding of
    # a batched matrix product
    corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * n_in)).reshape(n_in, -1).T
    values = obj.checked(net).values(corners, net.forward(corners))
    sign = -1.0 if maximize else 1.0
    assert sign * found.best.objective <= (sign * values).min() + 1e-12 * (1 + abs(values).max())
