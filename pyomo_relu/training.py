"""Train small ReLU networks with levers that make them easier to optimize over.

``train_mlp`` fits a fully connected network ``n_in -> hidden... -> n_out``
with PyTorch on CPU and returns it as a :class:`~pyomo_relu.network.ReluNetwork`
in physical units.  Besides accuracy, a network embedded in a mixed-integer
program should have few unstable neurons and few linear regions; the options
offer the training-time levers studied for that purpose:

* ``l1``: L1 penalty ``l1 * sum |W|`` on all weight matrices (sparse weights);
* ``l2``: L2 penalty ``l2 * sum W**2`` on all weight matrices (weight decay);
* ``dropout``: dropout after every hidden activation;
* ``stability``: the ReLU-stability (RS) loss of Xiao et al., "Training for
  faster adversarial robustness verification via inducing ReLU stability",
  ICLR 2019: ``stability * sum_j -tanh(1 + l_j u_j)`` over all hidden neurons,
  where ``[l_j, u_j]`` are interval bounds of the pre-activations propagated
  (differentiably) through the network over the input box.  The loss is
  smallest when ``l_j`` and ``u_j`` have the same sign, i.e. the neuron is
  stable over the whole box;
* ``bound_width``: ``bound_width * sum_j (u_j - l_j)`` over all hidden neurons,
  with the same interval bounds as the stability loss.  Tighter bounds mean
  smaller big-M coefficients and a tighter LP relaxation of the MILP (Tsay,
  "Relaxation-Informed Training of Neural Network Surrogate Models", 2026).
  The widths are measured in the standardized units the network trains in
  (inputs and outputs of mean 0 and standard deviation 1), so the weight does
  not depend on the units of the data;
* ``lp_gap``: ``lp_gap * mean_i gap(x_i)`` over ``lp_gap_samples`` points ``x_i`` of
  the minibatch, where ``gap(x) = lp_hi(x) - lp_lo(x)`` is the width of the
  output interval that the LP relaxation of the network (big-M/triangle
  relaxation with the interval bounds over the input box) gives at the fixed
  input ``x`` (Tsay 2026's per-sample relaxation gap; standardized output
  units).  The LPs are solved with HiGHS and the gradient is taken from their
  duals (:mod:`pyomo_relu.relaxation_gap`); ReLU networks only;
* ``activation="clipped_relu"``: hidden activations ``min(max(0, z), cap)``.

Inputs and outputs are standardized (mean 0, standard deviation 1) during
training; the affine scalings are folded into the first and the last layer of
the exported network, so it maps physical inputs to physical outputs.  Hidden
layers (and so the caps of clipped ReLUs) are unaffected by the folding.

Training is deterministic for a given ``seed``: the RNG is forked and seeded,
deterministic algorithms are requested and one CPU thread is used.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "pyomo_relu.training needs PyTorch, which is not installed; "
        "install the training extra with `pip install pyomo_relu[train]`."
    ) from exc

from .errors import (
    DataError,
    InfeasibleBoxError,
    MissingBoundsError,
    ShapeMismatchError,
    UnknownOptionError,
)
from .io.torch import from_torch
from .network import DenseLayer, ReluNetwork
from .relaxation_gap import LPGapSolver, lp_gap

__all__ = [
    "TrainResult",
    "TrainingDataError",
    "train_mlp",
    "fold_normalization",
    "interval_pass",
    "stability_loss",
    "bound_width_loss",
    "ACTIVATIONS",
]

#: valid values of ``activation``
ACTIVATIONS = ("relu", "clipped_relu")
#: a column whose standard deviation is below this share of its largest magnitude is constant
#: (the rounding noise of ``std`` of a constant column is a few ulps; dividing by it would put
#: weights of ~1e16 into the exported first layer)
CONSTANT_RTOL = 1e-12
#: samples may lie this far (relative to the box's scale) outside ``input_bounds``: data rounded
#: when it was written (``1.6532900000000001`` for a bound ``1.65329``) still counts as inside
BOX_RTOL = 1e-9
#: a varying column needs a standard deviation of at least this: the folded first layer divides
#: the weights by it, and a smaller one would overflow float64 to Inf
SMALLEST_STD = 1e-290


class TrainingDataError(DataError):
    """Training data are not usable: not numeric, NaN/Inf, too large to standardize, outside the
    box."""


@dataclass
class TrainResult:
    """Outcome of :func:`train_mlp`.

    Attributes
    ----------
    network : ReluNetwork
        The trained network in physical units (float64).
    history : list of dict
        Per epoch: ``{"epoch", "train_mse", "val_mse"}`` in physical units
        (``val_mse`` is NaN without a validation split).
    train_mse, val_mse : float
        Final mean squared errors in physical units, averaged over outputs.
    options : dict
        The options the network was trained with.
    input_bounds : tuple of ndarray
        The input box ``(lb, ub)`` used by the stability and bound-width regularizers (the
        data's range unless given).
    scaling : dict
        ``x_mean, x_std, y_mean, y_std`` of the standardization folded into ``network``.
    model : torch.nn.Sequential or None
        The trained torch model (eval mode), working in standardized units.
    """

    network: ReluNetwork
    history: list = field(default_factory=list)
    train_mse: float = float("nan")
    val_mse: float = float("nan")
    options: dict = field(default_factory=dict)
    input_bounds: tuple = ()
    scaling: dict = field(default_factory=dict)
    model: object = None


# -- validation --------------------------------------------------------------
def _untracked(a):
    """``a`` with a torch tensor detached and moved to the CPU (numpy refuses the others)."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu()
    return a


def _as_array(name: str, a) -> np.ndarray:
    if np.ma.isMaskedArray(a) and np.ma.count_masked(
        a
    ):  # np.asarray would train on the hidden values
        raise TrainingDataError(
            f"train_mlp: {name} is a masked array with {np.ma.count_masked(a)} masked entries, "
            "whose hidden values "
            "would be trained on; drop the rows with masked entries or fill them (np.ma.filled) "
            "first."
        )
    try:
        arr = np.asarray(_untracked(a))
        if arr.dtype.kind == "c":
            raise TypeError("complex values")
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TrainingDataError(
            f"train_mlp: {name} must be an array of real numbers, found a {type(a).__name__} that "
            "cannot be "
            f"converted ({exc}); pass a numeric array (parse or drop text cells, split ragged "
            "rows)."
        ) from None


def _check_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = _as_array("X", X), _as_array("y", y)
    if X.ndim == 1:  # one input: paired row by row with y, so (n,) can only mean (n, 1)
        X = X[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if X.ndim != 2 or y.ndim != 2 or X.shape[1] == 0 or y.shape[1] == 0:
        raise ShapeMismatchError(
            "train_mlp: X must be (n_samples, n_inputs) and y (n_samples,) or (n_samples, "
            "n_outputs) with at "
            f"least one column each; found X {X.shape} and y {y.shape}."
        )
    if X.shape[0] != y.shape[0]:
        hint = ""
        if X.shape[1] == y.shape[0]:
            hint = f" (X {X.shape} looks transposed: pass X.T)"
        elif y.shape[1] == X.shape[0]:
            hint = f" (y {y.shape} looks transposed: pass y.T)"
        raise ShapeMismatchError(
            f"train_mlp: X has {X.shape[0]} samples but y has {y.shape[0]}{hint}; pass one target "
            "row per input row."
        )
    if X.shape[0] < 2:
        raise ShapeMismatchError(
            f"train_mlp: need at least 2 samples to fit and standardize, found {X.shape[0]}; pass "
            "more data."
        )
    for name, arr in (("X", X), ("y", y)):
        bad = np.argwhere(~np.isfinite(arr))
        if bad.size:
            raise TrainingDataError(
                f"train_mlp: {name} contains NaN or Inf (first at row {bad[0][0]}, column "
                f"{bad[0][1]}); "
                "drop or impute those rows before training."
            )
    return X, y


def _check_int(name: str, value, *, low: int, high: int | None = None, high_text: str = "") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, np.integer, float, np.floating)
    ):
        ok = False
    elif isinstance(value, (float, np.floating)):
        ok = bool(np.isfinite(value)) and float(value).is_integer()
    else:
        ok = True
    ok = ok and value >= low and (high is None or value < high)
    if not ok:
        limit = f">= {low}" + ("" if high is None else f" and < {high_text or high}")
        raise UnknownOptionError(f"train_mlp: {name} must be an integer {limit}, found {value!r}.")
    return int(value)


def _check_float(name: str, value, *, positive: bool) -> float:
    try:
        ok = not isinstance(value, (bool, np.bool_, str)) and np.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    if not ok or float(value) < 0 or (positive and float(value) == 0):
        raise UnknownOptionError(
            f"train_mlp: {name} must be a finite number {'> 0' if positive else '>= 0'}, found "
            f"{value!r}."
        )
    return float(value)


def _check_hidden(value) -> tuple[int, ...]:
    hidden = value
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        # a string such as "25,25" (from a config file) would otherwise become its characters
        hidden = None if isinstance(hidden, (str, bytes)) else tuple(hidden)
    except TypeError:
        hidden = None
    if not hidden or not all(
        isinstance(h, (int, np.integer)) and not isinstance(h, (bool, np.bool_)) and h > 0
        for h in hidden
    ):
        raise UnknownOptionError(
            "train_mlp: hidden must be a non-empty sequence of positive integers (the hidden "
            "layer widths, "
            f"such as (25, 25)), found {value!r}."
        )
    return tuple(int(h) for h in hidden)


def _check_options(opts: dict) -> dict:
    """The validated options (numbers converted); raises UnknownOptionError for a bad value."""
    if not isinstance(opts["activation"], str) or opts["activation"] not in ACTIVATIONS:
        raise UnknownOptionError(
            f"train_mlp: activation={opts['activation']!r} is not known; valid: "
            f"{', '.join(ACTIVATIONS)}."
        )
    out = dict(opts, hidden=_check_hidden(opts["hidden"]))
    for name in ("cap", "lr"):
        out[name] = _check_float(name, opts[name], positive=True)
    for name in ("l1", "l2", "stability", "bound_width", "lp_gap", "dropout", "validation"):
        out[name] = _check_float(name, opts[name], positive=False)
    for name in ("dropout", "validation"):
        if not out[name] < 1.0:
            raise UnknownOptionError(f"train_mlp: {name} must be in [0, 1), found {opts[name]!r}.")
    for name in ("epochs", "batch_size", "lp_gap_samples", "lp_gap_every"):
        out[name] = _check_int(name, opts[name], low=1)
    if out["lp_gap"] and out["activation"] != "relu":
        raise UnknownOptionError(
            f"train_mlp: lp_gap needs activation='relu' (its LP relaxes ReLUs), found "
            f"activation={out['activation']!r}; use lp_gap=0 with clipped ReLUs, or bound_width, "
            "which works with both."
        )
    out["seed"] = _check_int("seed", opts["seed"], low=0, high=2**63, high_text="2**63")
    for name in ("normalize", "verbose"):
        # bool("False") is True: a string (say from a config file) would silently mean the opposite
        value = opts[name]
        if not (
            isinstance(value, (bool, np.bool_))
            or isinstance(value, (int, np.integer))
            and value in (0, 1)
        ):
            raise UnknownOptionError(
                f"train_mlp: {name} must be True or False, found {opts[name]!r}."
            )
        out[name] = bool(opts[name])
    return out


def _input_box(input_bounds, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if input_bounds is None:
        return X.min(axis=0), X.max(axis=0)
    not_a_pair = ShapeMismatchError(
        "train_mlp: input_bounds must be a pair (lb, ub) of numbers or arrays of length "
        f"{X.shape[1]}, "
        f"found {input_bounds!r}."
    )
    try:
        lb, ub = input_bounds
    except (TypeError, ValueError):
        raise not_a_pair from None
    if (
        lb is None or ub is None
    ):  # np.asarray(None, float) is NaN: "not finite" would not say what is wrong
        raise MissingBoundsError(
            f"train_mlp: input_bounds has None as {'lb' if lb is None else 'ub'}; pass numbers or "
            "arrays of "
            f"length {X.shape[1]} for both, or leave input_bounds=None to use the range of X."
        )
    try:
        lb, ub = (
            np.asarray(_untracked(lb), dtype=np.float64),
            np.asarray(_untracked(ub), dtype=np.float64),
        )
    except (TypeError, ValueError):
        raise not_a_pair from None
    try:
        lb = np.broadcast_to(lb, (X.shape[1],)).copy()
        ub = np.broadcast_to(ub, (X.shape[1],)).copy()
    except ValueError:
        raise ShapeMismatchError(
            f"train_mlp: input_bounds must have one entry per input ({X.shape[1]}), found lb of "
            "shape "
            f"{lb.shape} and ub of shape {ub.shape}."
        ) from None
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))):
        raise MissingBoundsError(f"train_mlp: input_bounds must be finite, found lb={lb}, ub={ub}.")
    if not np.all(lb <= ub):
        raise InfeasibleBoxError(
            f"train_mlp: input_bounds need lb <= ub, found lb={lb}, ub={ub}; swap them."
        )
    tol = BOX_RTOL * np.maximum(1.0, np.maximum(np.abs(lb), np.abs(ub)))
    outside = (X < lb - tol) | (X > ub + tol)
    if outside.any():
        row, col = np.argwhere(outside)[0]
        raise TrainingDataError(
            f"train_mlp: input_bounds do not cover the data: {int(outside.any(axis=1).sum())} of "
            f"{X.shape[0]} "
            f"samples lie outside (first: row {row}, column {col}, value {X[row, col]:.6g} not in "
            f"[{lb[col]:.6g}, {ub[col]:.6g}]); the data's range is lb={X.min(axis=0)}, "
            f"ub={X.max(axis=0)}. "
            "Widen input_bounds to cover the data or drop the samples outside the box."
        )
    return lb, ub


# -- the torch model ---------------------------------------------------------
def _build_model(n_in: int, n_out: int, opts: dict) -> nn.Sequential:
    modules, width = [], n_in
    for h in opts["hidden"]:
        modules.append(nn.Linear(width, int(h), dtype=torch.float64))
        if opts["activation"] == "clipped_relu":
            modules.append(nn.Hardtanh(0.0, float(opts["cap"])))
        else:
            modules.append(nn.ReLU())
        if opts["dropout"] > 0:
            modules.append(nn.Dropout(opts["dropout"]))
        width = int(h)
    modules.append(nn.Linear(width, n_out, dtype=torch.float64))
    return nn.Sequential(*modules)


def _linears(model: nn.Sequential) -> list:
    return [m for m in model if isinstance(m, nn.Linear)]


def interval_pass(
    model: nn.Sequential, lo: torch.Tensor, up: torch.Tensor, cap: float | None
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Interval bounds ``[(l_1, u_1), ..., (l_K, u_K)]`` of the hidden pre-activations of ``model``.

    The box ``[lo, up]`` is propagated layer by layer in centre/radius form,
    ``z_mid = W mid + b`` and ``z_rad = |W| rad``, so the bounds are differentiable in the
    weights; the activation (ReLU, or the clipped ReLU with ``cap``) is applied to the bounds
    of one layer to give the box of the next.  The output layer is not included.
    """
    bounds = []
    for lin in _linears(model)[:-1]:
        mid, rad = (up + lo) / 2, (up - lo) / 2
        z_mid = lin(mid)
        z_rad = rad @ lin.weight.abs().T
        z_lo, z_up = z_mid - z_rad, z_mid + z_rad
        bounds.append((z_lo, z_up))
        lo, up = torch.relu(z_lo), torch.relu(z_up)
        if cap is not None:
            lo, up = lo.clamp(max=cap), up.clamp(max=cap)
    return bounds


def stability_loss(
    model: nn.Sequential, lo: torch.Tensor, up: torch.Tensor, cap: float | None
) -> torch.Tensor:
    """RS loss ``sum_j -tanh(1 + l_j u_j)`` over the hidden neurons of ``model``.

    ``[l, u]`` are interval bounds of each hidden pre-activation over the box
    ``[lo, up]`` (:func:`interval_pass`, differentiable in the weights).
    """
    return _stability_term(interval_pass(model, lo, up, cap))


def bound_width_loss(
    model: nn.Sequential, lo: torch.Tensor, up: torch.Tensor, cap: float | None
) -> torch.Tensor:
    """Summed interval widths ``sum_j (u_j - l_j)`` of the hidden pre-activations of ``model``.

    ``[l, u]`` are the interval bounds of :func:`interval_pass` over the box ``[lo, up]``,
    in the units the model works in (standardized units when trained by :func:`train_mlp`).
    """
    return _width_term(interval_pass(model, lo, up, cap))


def _stability_term(bounds) -> torch.Tensor:
    return -sum(torch.tanh(1.0 + z_lo * z_up).sum() for z_lo, z_up in bounds)


def _width_term(bounds) -> torch.Tensor:
    return sum((z_up - z_lo).sum() for z_lo, z_up in bounds)


def _penalty(model, opts, box, x, gap_solver) -> torch.Tensor:
    """The regularization terms of one step; ``x`` are the step's inputs (for ``lp_gap``), or
    None to leave the gap term out of this step."""
    linears = _linears(model)
    weights = [lin.weight for lin in linears]
    pen = weights[0].new_zeros(())
    if opts["l1"]:
        pen = pen + opts["l1"] * sum(w.abs().sum() for w in weights)
    if opts["l2"]:
        pen = pen + opts["l2"] * sum((w * w).sum() for w in weights)
    use_gap = bool(opts["lp_gap"]) and x is not None
    if opts["stability"] or opts["bound_width"] or use_gap:
        # one interval pass serves every term that reads the box bounds
        cap = opts["cap"] if opts["activation"] == "clipped_relu" else None
        bounds = interval_pass(model, box[0], box[1], cap)
        if opts["stability"]:
            pen = pen + opts["stability"] * _stability_term(bounds)
        if opts["bound_width"]:
            pen = pen + opts["bound_width"] * _width_term(bounds)
        if use_gap:
            gaps = lp_gap(linears, x[: opts["lp_gap_samples"]], bounds, gap_solver)
            pen = pen + opts["lp_gap"] * gaps.mean()
    return pen


@contextlib.contextmanager
def _deterministic(seed: int):
    """Seeded, single-threaded, deterministic torch; global state restored afterwards."""
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(det)
            torch.set_num_threads(threads)


# -- export ------------------------------------------------------------------
def fold_normalization(weights, biases, *, x_mean, x_std, y_mean, y_std):
    """Fold input standardization into the first layer and output scaling into the last.

    With ``x_n = (x - x_mean) / x_std`` and ``y = y_std * y_n + y_mean``:
    ``W_1' = W_1 diag(1/x_std)``, ``b_1' = b_1 - W_1 (x_mean / x_std)``,
    ``W_L' = diag(y_std) W_L``, ``b_L' = y_std * b_L + y_mean``.

    Returns new lists of float64 arrays; the inputs are not modified.
    """
    weights = [np.array(w, dtype=np.float64) for w in weights]
    biases = [np.array(b, dtype=np.float64) for b in biases]
    x_mean, x_std = np.asarray(x_mean, float), np.asarray(x_std, float)
    y_mean, y_std = np.asarray(y_mean, float), np.asarray(y_std, float)
    w0 = weights[0]
    biases[0] = biases[0] - w0 @ (x_mean / x_std)
    weights[0] = w0 / x_std[None, :]
    weights[-1] = y_std[:, None] * weights[-1]
    biases[-1] = y_std * biases[-1] + y_mean
    return weights, biases


def _export(model, scale) -> ReluNetwork:
    """The torch model as a ReluNetwork in physical units (standardization folded in)."""
    net = from_torch(model)
    ws, bs = fold_normalization(
        [layer.weights for layer in net.layers], [layer.bias for layer in net.layers], **scale
    )
    return net.with_layers(
        [
            DenseLayer(w, b, layer.activation, name=f"layer {k}")
            for k, (w, b, layer) in enumerate(zip(ws, bs, net.layers))
        ]
    )


# -- training loop -----------------------------------------------------------
def _standardize(X, y, normalize: bool) -> dict:
    if not normalize:
        return {
            "x_mean": np.zeros(X.shape[1]),
            "x_std": np.ones(X.shape[1]),
            "y_mean": np.zeros(y.shape[1]),
            "y_std": np.ones(y.shape[1]),
        }
    out = {}
    for name, arr in (("x", X), ("y", y)):
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = arr.mean(axis=0), arr.std(axis=0)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise TrainingDataError(
                f"train_mlp: {'X' if name == 'x' else 'y'} has values too large to standardize in "
                "float64 "
                f"(largest magnitude {np.abs(arr).max():.3g}); rescale the data, e.g. to the "
                "order of 1."
            )
        # std squares the deviations, which underflow for values below ~1e-154 (a varying column of
        # 1e-170 would come out constant): measure the spread relative to the column's largest
        # magnitude
        big = np.abs(arr).max(axis=0)
        big = np.where(big > 0, big, 1.0)
        rel = (arr / big).std(axis=0)
        constant = rel <= CONSTANT_RTOL
        std = rel * big
        tiny = ~constant & (std < SMALLEST_STD)
        if tiny.any():
            raise TrainingDataError(
                f"train_mlp: {'X' if name == 'x' else 'y'} column {int(np.argmax(tiny))} varies "
                "too little to "
                f"standardize in float64 (standard deviation {std[tiny][0]:.3g}); rescale the "
                "data, e.g. to "
                "the order of 1."
            )
        out[f"{name}_mean"], out[f"{name}_std"] = mean, np.where(constant, 1.0, std)
    return out


def _mse(model, x, y, y_var) -> float:
    """MSE in physical units (normalized squared error times the output variance)."""
    if x.shape[0] == 0:
        return float("nan")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        err = (model(x) - y) ** 2 * y_var
    model.train(was_training)
    return float(err.mean())


def _run_epochs(model, data, opts, box, y_var) -> list:
    from tqdm.auto import tqdm

    (xt, yt), (xv, yv) = data
    optim = torch.optim.Adam(model.parameters(), lr=opts["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        optim, T_max=opts["epochs"], eta_min=opts["lr"] * 0.02
    )
    gen = torch.Generator().manual_seed(opts["seed"])
    gap_solver = LPGapSolver() if opts["lp_gap"] else None
    history, step = [], 0
    epochs = tqdm(range(opts["epochs"]), desc="train_mlp", disable=not opts["verbose"], leave=False)
    for epoch in epochs:
        order = torch.randperm(xt.shape[0], generator=gen)
        for start in range(0, xt.shape[0], opts["batch_size"]):
            idx = order[start : start + opts["batch_size"]]
            gap_x = xt[idx] if step % opts["lp_gap_every"] == 0 else None
            step += 1
            loss = nn.functional.mse_loss(model(xt[idx]), yt[idx]) + _penalty(
                model, opts, box, gap_x, gap_solver
            )
            optim.zero_grad()
            loss.backward()
            optim.step()
        sched.step()
        row = {
            "epoch": epoch + 1,
            "train_mse": _mse(model, xt, yt, y_var),
            "val_mse": _mse(model, xv, yv, y_var),
        }
        history.append(row)
        if not np.isfinite(
            row["train_mse"]
        ):  # NaN stays NaN: stop now, not with an unusable network
            raise UnknownOptionError(
                f"train_mlp: training diverged in epoch {epoch + 1} (the training error became "
                f"{row['train_mse']}) with "
                f"lr={opts['lr']:g}{'' if opts['normalize'] else ' and normalize=False'}; "
                "lower lr"
                + (
                    ""
                    if opts["normalize"]
                    else ", set normalize=True or rescale the data to the order of 1"
                )
                + "."
            )
        epochs.set_postfix(train=f"{row['train_mse']:.3g}", val=f"{row['val_mse']:.3g}")
    model.eval()
    return history


def train_mlp(
    X,
    y,
    *,
    hidden=(25, 25),
    activation="relu",
    cap=1.0,
    l1=0.0,
    l2=0.0,
    stability=0.0,
    bound_width=0.0,
    lp_gap=0.0,
    lp_gap_samples=8,
    lp_gap_every=1,
    dropout=0.0,
    epochs=200,
    batch_size=64,
    lr=3e-3,
    seed=0,
    input_bounds=None,
    validation=0.2,
    normalize=True,
    verbose=False,
) -> TrainResult:
    """Train a feed-forward ReLU (or clipped-ReLU) network on ``(X, y)``.

    Parameters
    ----------
    X : array_like (n_samples, n_inputs) or (n_samples,)
        A 1-D ``X`` is one input (it is paired row by row with ``y``). At least 2 samples.
        Anything numpy converts to numbers works: arrays of any real dtype, nested lists,
        data frames, torch tensors (also ones that require grad).
    y : array_like (n_samples,) or (n_samples, n_outputs)
    hidden : int or sequence of int
        Widths of the hidden layers (at least one layer).
    activation : {"relu", "clipped_relu"}
        Hidden activation; clipped ReLU is ``min(max(0, z), cap)`` in normalized units.
    cap : float
        Cap of the clipped ReLU.
    l1, l2 : float
        Weights of ``sum |W|`` and ``sum W**2`` over all weight matrices.
    stability : float
        Weight of the ReLU-stability loss (see the module docstring).
    bound_width : float
        Weight of the summed interval-bound widths of the hidden pre-activations over the
        input box, in standardized units (see the module docstring).
    lp_gap : float
        Weight of the mean LP relaxation gap at training points (see the module docstring
        and :mod:`pyomo_relu.relaxation_gap`), in standardized output units.
    lp_gap_samples : int
        Points of a minibatch (its first ones; minibatches are shuffled) whose gap LPs are
        solved in a step: two LPs per point and output.
    lp_gap_every : int
        Add the gap term in every ``lp_gap_every``-th step only (1: every step).
    dropout : float
        Dropout probability after each hidden activation.
    epochs, batch_size, lr : int, int, float
        Adam with a cosine learning-rate decay to ``lr / 50``.
    seed : int
        Seed of initialization, split and shuffling; equal seeds give equal weights.
    input_bounds : (lb, ub), optional
        Box for the stability and bound-width terms; default the range of ``X``.  It must
        contain every sample (up to rounding): a box that misses the data is almost always a
        unit or column mix-up.
    validation : float
        Fraction of samples held out (seeded) for the validation error.
    normalize : bool
        Standardize inputs and outputs during training (folded into the export).
    verbose : bool
        Show a progress bar.

    Returns
    -------
    TrainResult

    Raises
    ------
    UnknownOptionError
        For an unknown ``activation`` or an out-of-range option (``hidden`` empty or with a
        width < 1, negative penalties, ``cap <= 0``, ``epochs < 1``, ``normalize`` not a
        boolean, ...), and when training diverges (the training error becomes NaN or Inf,
        e.g. for a far too large ``lr``).
    ShapeMismatchError
        For ``X`` and ``y`` of the wrong shapes, of different lengths or with fewer than
        2 samples, or ``input_bounds`` of the wrong length.
    TrainingDataError
        For data that are not numbers, contain NaN/Inf or masked entries, are too large (or
        vary too little) to standardize, or lie outside ``input_bounds``.
    MissingBoundsError, InfeasibleBoxError
        For ``input_bounds`` that are not finite (or hold None) or have ``lb > ub``.

    All of them derive from :class:`~pyomo_relu.errors.ReluError` and ``ValueError``.
    Constant columns (zero standard deviation) are centred but not scaled.
    """
    opts = _check_options(
        {
            "hidden": hidden,
            "activation": activation,
            "cap": cap,
            "l1": l1,
            "l2": l2,
            "stability": stability,
            "bound_width": bound_width,
            "lp_gap": lp_gap,
            "lp_gap_samples": lp_gap_samples,
            "lp_gap_every": lp_gap_every,
            "dropout": dropout,
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "validation": validation,
            "normalize": normalize,
            "verbose": verbose,
        }
    )
    X, y = _check_data(X, y)
    lb, ub = _input_box(input_bounds, X)
    scale = _standardize(X, y, normalize)
    Xn = (X - scale["x_mean"]) / scale["x_std"]
    yn = (y - scale["y_mean"]) / scale["y_std"]
    order = np.random.default_rng(opts["seed"]).permutation(X.shape[0])
    n_val = int(round(opts["validation"] * X.shape[0]))
    if X.shape[0] - n_val < 1:
        raise UnknownOptionError(
            f"train_mlp: validation={validation} leaves no training samples out of {X.shape[0]}; "
            "lower validation or pass more data."
        )
    val, tr = order[:n_val], order[n_val:]
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
    data = ((t(Xn[tr]), t(yn[tr])), (t(Xn[val]), t(yn[val])))
    box = (t((lb - scale["x_mean"]) / scale["x_std"]), t((ub - scale["x_mean"]) / scale["x_std"]))
    y_var = t(scale["y_std"] ** 2)
    with _deterministic(opts["seed"]):
        model = _build_model(X.shape[1], y.shape[1], opts)
        history = _run_epochs(model, data, opts, box, y_var)
        train_mse = _mse(model, *data[0], y_var)
        val_mse = _mse(model, *data[1], y_var)
    net = _export(model, scale)
    return TrainResult(
        network=net,
        history=history,
        train_mse=train_mse,
        val_mse=val_mse,
        options=opts,
        input_bounds=(lb, ub),
        scaling=scale,
        model=model,
    )
