"""``ReluNetworkBlock``: a trained ReLU network embedded in a Pyomo model.

The block owns the network, its bounds and stable ``inputs``/``outputs``; the
formulation's variables and rows live on the child block ``mip``, which is
rebuilt (with new bounds or another formulation) without touching ``inputs``
and ``outputs``.  Example::

    m.x = pyo.Var(range(2), bounds=(-3, 3))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    m.obj = pyo.Objective(expr=m.nn.outputs[0])

The block keeps the ctype ``Block`` (solver interfaces such as ``scip_direct``
only write rows of blocks they recognize).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pyomo.environ as pyo
from pyomo.common.config import ConfigDict, ConfigValue, PositiveInt
from pyomo.core.base.block import BlockData, declare_custom_block
from pyomo.core.base.indexed_component import IndexedComponent
from pyomo.core.base.indexed_component_slice import IndexedComponent_slice
from pyomo.core.base.var import IndexedVar, VarData
from pyomo.core.expr.numvalue import NumericValue

from .bounds import NeuronBounds, check_box, interval_bounds
from .errors import (
    BlockArgumentError,
    InfeasibleBoxError,
    MissingBoundsError,
    NoValueError,
    ReluError,
    ShapeMismatchError,
    UnknownOptionError,
)
from .formulations import formulation_names, get_formulation
from .network import ReluNetwork

# ReluNetworkBlock is created by @declare_custom_block below
__all__ = ["ReluNetworkBlock", "ReluNetworkBlockData", "BLOCK_CONFIG"]  # noqa: F822


BLOCK_CONFIG = ConfigDict(description="Options of ReluNetworkBlock")
BLOCK_CONFIG.declare("network", ConfigValue(description="the ReluNetwork to embed"))
BLOCK_CONFIG.declare(
    "inputs",
    ConfigValue(
        default=None,
        description="the user's input variables (an indexed Var with n_inputs entries, a list of "
        "VarData, a slice such as m.x[t, :], a dict keyed by input position or input name, or a "
        "callable taking the block index); None creates the block's own",
    ),
)
BLOCK_CONFIG.declare(
    "input_bounds",
    ConfigValue(
        default=None,
        description="(lb, ub) of the input box; default: the bounds of the input variables",
    ),
)
BLOCK_CONFIG.declare(
    "bounds",
    ConfigValue(
        default=None,
        description="precomputed NeuronBounds (e.g. from lp_bounds); default interval bounds",
    ),
)
BLOCK_CONFIG.declare(
    "formulation",
    ConfigValue(
        default="bigm",
        description="name of a registered formulation: " + ", ".join(formulation_names()),
    ),
)
BLOCK_CONFIG.declare(
    "workers",
    ConfigValue(
        default=1,
        domain=PositiveInt,
        description="worker processes for formulations that tighten bounds (>= 1)",
    ),
)
BLOCK_CONFIG.declare(
    "progress",
    ConfigValue(
        default=False,
        domain=bool,
        description="show progress bars while tightening",
    ),
)


def _describe(item) -> str:
    """Short description of a non-variable found among the inputs, for error messages."""
    if isinstance(item, (int, float, np.number)):
        return f"the number {item!r}"
    name = getattr(item, "name", None) or repr(item)
    if getattr(item, "is_expression_type", lambda: False)():
        return f"the expression {item}"
    return f"{name} ({type(item).__name__})"


def _check_variables(items: list, n: int, name: str) -> list:
    """``items`` if they are ``n`` Pyomo variables; a ShapeMismatchError saying what is wrong
    otherwise."""
    if len(items) != n:
        raise ShapeMismatchError(
            f"{name}: inputs must be {n} Pyomo variables (one per network input), found "
            f"{len(items)} "
            f"item(s); pass an indexed Var with {n} entries or a list of {n} variables."
        )
    for i, v in enumerate(items):
        if not isinstance(v, VarData):
            raise ShapeMismatchError(
                f"{name}: input {i} must be a Pyomo variable, found {_describe(v)}; inputs are "
                "used "
                "directly (no linking rows), so declare a variable for it, e.g. m.u = "
                "Var(bounds=...) "
                "with a constraint m.u == <expression>, and pass m.u."
            )
    return items


def _from_mapping(spec: Mapping, n: int, input_names, name: str) -> list:
    """Variables of a dict keyed by input position (0..n-1) or by the network's input names."""
    keys = list(spec)
    if set(keys) == set(range(n)):
        return [spec[i] for i in range(n)]
    if set(keys) == set(input_names):
        return [spec[s] for s in input_names]
    raise ShapeMismatchError(
        f"{name}: a dict of inputs must be keyed by input position 0..{n - 1} or by the network's "
        f"input names {list(input_names)}, found keys {keys[:8]}{' ...' if len(keys) > 8 else ''}; "
        "for an indexed block, key it by the block index instead."
    )


#: the last indexed Var grouped by index prefix, for the block under construction (see
# :func:`_entries_by_prefix`)
_GROUPED: dict = {}


def _entries_by_prefix(spec, length: int, owner) -> dict:
    """``{prefix: [(rest, var), ...]}``: the entries of ``spec`` grouped by the first ``length``
    index parts.

    ``rest`` is the tuple of the index parts after the prefix (empty if none).
    An indexed block (``owner``) calls this once per block index with the same
    Var, so the grouping is kept for the rest of that block's construction
    (through weak references): building ``T`` copies reads the Var once
    instead of ``T`` times, which made the build quadratic in ``T``.
    """
    hit = _GROUPED.get("entry")
    if hit is not None and hit[0]() is owner and hit[1]() is spec and hit[2] == length:
        return hit[3]
    groups: dict = {}
    for key, v in spec.items():
        key = key if isinstance(key, tuple) else (key,)
        groups.setdefault(key[:length], []).append((key[length:], v))
    _GROUPED["entry"] = (weakref.ref(owner), weakref.ref(spec), length, groups)
    return groups


def _in_input_order(entries: list, input_names) -> list:
    """The variables of ``entries`` (``[(key, var)]``), in the network's input order.

    A Var indexed by the network's input names (``m.x["T"]``, ``m.x["P"]``) is
    matched by name, whatever the order of its index set: taken by position,
    a Var declared over ``["P", "T"]`` would feed ``P`` into the input ``T``.
    Other keys are taken in the Var's order.
    """
    keys = [key[0] if isinstance(key, tuple) and len(key) == 1 else key for key, _ in entries]
    if len(keys) == len(input_names) and set(keys) == set(input_names):
        by_name = dict(zip(keys, (v for _, v in entries)))
        return [by_name[s] for s in input_names]
    return [v for _, v in entries]


def _from_indexed_var(spec, index, net: ReluNetwork, name: str, owner=None) -> list:
    """Entries of an indexed Var: ``x[t, i]`` for block index ``t`` if present, else all of ``x``.

    Entries keyed by the network's input names are taken in the network's input order.
    """
    n = net.n_inputs
    if index is not None:
        prefix = index if isinstance(index, tuple) else (index,)
        # x[t, i] for this block, or x[t] itself when the network has one input
        own = [
            (rest, v)
            for rest, v in _entries_by_prefix(spec, len(prefix), owner).get(prefix, ())
            if rest or n == 1
        ]
        if own:
            if len(own) != n:
                raise ShapeMismatchError(
                    f"{name}: {spec.name} has {len(own)} entries whose index starts with "
                    f"{index!r}, "
                    f"but the network has {n} inputs; index the Var as {spec.name}[t, i] with i in "
                    f"range({n}) for every block index t."
                )
            return _in_input_order(own, net.input_names)
        if len(spec) != n:
            raise ShapeMismatchError(
                f"{name}: {spec.name} has no entries indexed by the block index {index!r} and "
                f"{len(spec)} entries in all, but the network has {n} inputs; index the Var as "
                f"{spec.name}[t, i] (block index first) or pass inputs=lambda t: [...]."
            )
    return _in_input_order(list(spec.items()), net.input_names)


def _resolve_inputs(spec, index, net: ReluNetwork, name: str, owner=None):
    """The block's input VarData list from the user's ``inputs`` argument, or None.

    ``owner`` is the (indexed) block component being built; see :func:`_entries_by_prefix`.
    """
    if spec is None:
        return None
    n = net.n_inputs
    if isinstance(spec, IndexedComponent_slice):
        # a slice such as m.x[t, :] or m.unit[:].feed selects variables; it is also callable
        # (it forwards calls to what it selects), so it is read before the callable case
        return _check_variables(list(spec), n, name)
    if isinstance(spec, Callable) and not isinstance(spec, (IndexedComponent, NumericValue)):
        spec = spec(index) if index is not None else spec()
        return (
            _resolve_inputs(spec, None, net, name)
            if spec is not None
            else _check_variables([], n, name)
        )
    if isinstance(spec, Mapping) and not isinstance(spec, IndexedComponent):
        if index is not None and index in spec:
            return _resolve_inputs(spec[index], None, net, name)
        if index is not None and not (set(spec) <= set(range(n)) | set(net.input_names)):
            raise ShapeMismatchError(
                f"{name}: the dict of inputs has no entry for block index {index!r}; give one "
                "list of "
                f"{n} variables per block index."
            )
        return _check_variables(_from_mapping(spec, n, net.input_names, name), n, name)
    if isinstance(spec, IndexedVar) or (isinstance(spec, IndexedComponent) and spec.is_reference()):
        return _check_variables(_from_indexed_var(spec, index, net, name, owner), n, name)
    if isinstance(spec, VarData):
        return _check_variables([spec], n, name)
    if (
        isinstance(spec, IndexedComponent)
        or not isinstance(spec, Iterable)
        or isinstance(spec, str)
    ):
        raise ShapeMismatchError(
            f"{name}: inputs must be Pyomo variables (an indexed Var, a list of variables, a dict "
            "or a "
            f"callable), found {_describe(spec)}; pass e.g. inputs=m.x with m.x = Var(range({n}), "
            "bounds=...)."
        )
    return _check_variables(list(spec), n, name)


def _named(exc: ReluError, where: str) -> ReluError:
    """``exc`` with ``where`` (the block and formulation) in front of its message, same type."""
    message = str(exc)
    if message.startswith(where.split(" ")[0]):
        return exc
    own = (
        where[where.find("(") + 1 : -1] + ": "
    )  # "formulation 'regions': " says the same as ``where``
    message = message[len(own) :] if message.startswith(own) else message
    try:
        return type(exc)(f"{where}: {message}")
    except Exception:  # an exception type with another signature: keep it as is
        return exc


def _read_config(kwargs: dict, name: str):
    """``BLOCK_CONFIG`` filled from the keyword arguments; UnknownOptionError names a bad one."""
    unknown = sorted(set(kwargs) - set(BLOCK_CONFIG.keys()))
    if unknown:
        raise UnknownOptionError(
            f"{name}: unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"ReluNetworkBlock takes {', '.join(BLOCK_CONFIG.keys())}."
        )
    try:
        return BLOCK_CONFIG(kwargs)
    except ValueError as exc:
        raise UnknownOptionError(f"{name}: {exc}".strip()) from None


def _merge_box(bounds: NeuronBounds, net: ReluNetwork, lb, ub, name: str) -> NeuronBounds:
    """``bounds`` restricted to the box ``[lb, ub]``: the boxes intersect, the neuron bounds too.

    Both sets of neuron bounds are sound on the common box, so their
    intersection is; the result's input box is that common box (which the
    block then enforces), so bounds and box never disagree.
    """
    lo, up = np.maximum(bounds.input_lb, lb), np.minimum(bounds.input_ub, ub)
    if np.array_equal(lo, bounds.input_lb) and np.array_equal(up, bounds.input_ub):
        return bounds
    bad = np.flatnonzero(lo > up)
    if bad.size:
        i = int(bad[0])
        raise InfeasibleBoxError(
            f"{name}: the neuron bounds were computed for inputs in [{bounds.input_lb[i]}, "
            f"{bounds.input_ub[i]}] "
            f"at input {i} ({net.input_names[i]!r}), which misses the block's box [{lb[i]}, "
            f"{ub[i]}]; "
            "compute the bounds over the block's input box."
        )
    return interval_bounds(net, lo, up).intersect(bounds)


def _in_disjunct(block) -> bool:
    """Whether ``block`` lies inside a GDP Disjunct (whose transformations know a fixed set of
    component types)."""
    from pyomo.gdp import Disjunct

    parent = block.parent_block()
    while parent is not None:
        if parent.ctype is Disjunct:
            return True
        parent = parent.parent_block()
    return False


def _is_network_output(var) -> bool:
    """Whether ``var`` is one of the ``outputs`` of a ReluNetworkBlock (a chained network)."""
    owner = var.parent_block()
    return isinstance(owner, ReluNetworkBlockData) and var.parent_component() is owner.component(
        "outputs"
    )


@declare_custom_block(name="ReluNetworkBlock", rule="_build")
class ReluNetworkBlockData(BlockData):
    """Data class of :class:`ReluNetworkBlock` (see the module docstring).

    Keyword arguments: see ``BLOCK_CONFIG`` (``network`` is required).
    """

    def _build(self, *index, **kwargs):
        index = None if not index else index[0] if len(index) == 1 else index
        cfg = _read_config(kwargs, self.name)
        net = cfg.network
        if not isinstance(net, ReluNetwork):
            raise BlockArgumentError(
                f"{self.name}: network must be a pyomo_relu.ReluNetwork, found "
                f"{type(net).__name__}; "
                "load one with pyomo_relu.load_onnx(path) or build one with "
                "ReluNetwork.from_arrays(...)."
            )
        if cfg.bounds is not None and not isinstance(cfg.bounds, NeuronBounds):
            raise BlockArgumentError(
                f"{self.name}: bounds must be pyomo_relu.NeuronBounds, found "
                f"{type(cfg.bounds).__name__}; "
                "compute them with interval_bounds / lp_bounds / milp_bounds, or leave bounds out."
            )
        formulation = get_formulation(cfg.formulation)  # fail before building anything
        self._network = net
        n = net.n_inputs
        owner = self.parent_component()
        user = _resolve_inputs(cfg.inputs, index, net, self.name, owner=owner)
        if (
            owner.is_indexed()
            and owner.index_set().isfinite()
            and len(owner) >= len(owner.index_set())
        ):
            _GROUPED.clear()  # the last copy: the grouping is not needed any more
        if user is None:
            self.inputs = pyo.Var(range(n), domain=pyo.Reals)
        else:
            # a generic (non-Var) reference: the user's variables stay theirs, and
            # writers that list Var components (Pyomo's MPS writer) do not meet them twice.
            # Inside a Disjunct it is a Var reference: Pyomo's GDP transformations refuse
            # component types they do not know
            ctype = pyo.Var if _in_disjunct(self) else IndexedComponent
            self.inputs = pyo.Reference(user, ctype=ctype)
        self.outputs = pyo.Var(range(net.n_outputs), domain=pyo.Reals)
        lb, ub = self._input_box(cfg.input_bounds, own=user is None)
        # remembered so that rebuild() notices input-variable bounds changed since
        self._box_spec, self._var_box = (cfg.input_bounds, user is None), (lb.copy(), ub.copy())
        bounds = cfg.bounds
        if bounds is None:
            bounds = interval_bounds(net, lb, ub)
        else:
            bounds.check_network(net)
            bounds = _merge_box(bounds, net, lb, ub, self.name)
        self._workers, self._progress = cfg.workers, cfg.progress
        self.rebuild(bounds=bounds, formulation=formulation)

    # -- input box -----------------------------------------------------------
    def _input_box(self, input_bounds, *, own: bool):
        net = self._network
        var_lb = np.array(
            [np.nan if v.lb is None else v.lb for v in self.inputs.values()], dtype=float
        )
        var_ub = np.array(
            [np.nan if v.ub is None else v.ub for v in self.inputs.values()], dtype=float
        )
        if input_bounds is None:
            missing = [
                i
                for i in range(net.n_inputs)
                if not (np.isfinite(var_lb[i]) and np.isfinite(var_ub[i]))
            ]
            if missing:
                var = list(self.inputs.values())[missing[0]]
                # the rows must stay valid if the variable is unfixed, so its value is no box
                fixed = f" and is fixed to {var.value}" if var.fixed else ""
                raise MissingBoundsError(
                    f"{self.name}: input {missing[0]} ({net.input_names[missing[0]]!r}, variable "
                    f"{var.name}) has bounds {var.bounds}{fixed}; every network input needs finite "
                    "variable bounds (constraints on it are not read as bounds) - set them on the "
                    "variable or pass input_bounds=(lb, ub)."
                )
            return check_box(net, var_lb, var_ub, what=f"{self.name} input box")
        try:
            lb, ub = input_bounds
        except (TypeError, ValueError):
            raise MissingBoundsError(
                f"{self.name}: input_bounds must be a pair (lb, ub), found {input_bounds!r}."
            ) from None
        lb, ub = check_box(net, lb, ub, what=f"{self.name} input_bounds")
        # the variables' own bounds may cut the box further
        lb = np.where(np.isfinite(var_lb), np.maximum(lb, var_lb), lb)
        ub = np.where(np.isfinite(var_ub), np.minimum(ub, var_ub), ub)
        lb, ub = check_box(
            net, lb, ub, what=f"{self.name} input box (input_bounds and variable bounds)"
        )
        if own:
            for i, v in self.inputs.items():
                v.setlb(float(lb[i]))
                v.setub(float(ub[i]))
        return lb, ub

    # -- (re)building the formulation ----------------------------------------
    def _follow_variable_bounds(self, current):
        """``current`` bounds adapted to input-variable bounds changed since the last build.

        A narrower box keeps what was proved for the old one (restricted to the
        new box); a wider one starts again from interval bounds, since nothing
        proved for the old box holds outside it.
        """
        if current is None or getattr(self, "_var_box", None) is None:
            return current
        lb, ub = self._input_box(*self._box_spec[:1], own=self._box_spec[1])
        old_lb, old_ub = self._var_box
        if np.array_equal(lb, old_lb) and np.array_equal(ub, old_ub):
            return current
        self._var_box = (lb.copy(), ub.copy())
        if np.all(lb >= old_lb) and np.all(ub <= old_ub):
            return _merge_box(current, self._network, lb, ub, self.name)
        return interval_bounds(self._network, lb, ub)

    def rebuild(self, *, bounds: NeuronBounds | None = None, formulation=None) -> None:
        """Rewrite the child block ``mip`` with new bounds and/or another formulation.

        Bounds are only ever tightened: new bounds are intersected with the
        current ones, and bounds computed for a smaller input box restrict the
        block's box to it (the box is then enforced by rows on ``mip``).  If the
        bounds of the input variables changed since the block was built, the
        new box is used: a narrower one keeps the bounds proved so far, a wider
        one starts again from interval bounds.
        ``inputs`` and ``outputs`` keep their identity.  If the formulation
        cannot be built (e.g. ``regions`` on too many inputs), or the rebuild
        is interrupted (Ctrl-C), the exception is raised and the block is left
        exactly as it was.

        Parameters
        ----------
        bounds : NeuronBounds, optional
            Sound bounds of this block's network (e.g. from ``lp_bounds``).
        formulation : str or Formulation, optional
            A registered name (``pyomo_relu.formulation_names()``) or a
            formulation object; default: keep the current one.
        """
        saved = self._snapshot()
        try:
            self._rebuild(bounds, formulation)
        except BaseException:
            # an error or Ctrl-C while the rows were being written (seconds for a big network)
            # must not leave half a formulation: the model would be solved without some rows
            self._restore(saved)
            raise

    _STATE = ("_bounds", "_formulation", "_prepared", "_stats", "_build_time", "_var_box")

    def _snapshot(self) -> tuple:
        """What :meth:`rebuild` changes: the ``mip`` block, the state above and the output
        bounds."""
        return (
            self.component("mip"),
            {name: getattr(self, name, None) for name in self._STATE},
            [(v.lb, v.ub) for v in self.outputs.values()],
        )

    def _restore(self, saved: tuple) -> None:
        mip, state, output_bounds = saved
        current = self.component("mip")
        if current is not mip:
            if current is not None:
                self.del_component(current)
            if mip is not None:
                self.add_component("mip", mip)
        for name, value in state.items():
            setattr(self, name, value)
        for v, (lo, up) in zip(self.outputs.values(), output_bounds):
            v.setlb(lo)
            v.setub(up)

    def _rebuild(self, bounds, formulation) -> None:
        """The work of :meth:`rebuild`; on an exception it may leave the block half-built."""
        new_bounds = self._follow_variable_bounds(getattr(self, "_bounds", None))
        if bounds is not None:
            if not isinstance(bounds, NeuronBounds):
                raise BlockArgumentError(
                    f"{self.name}.rebuild: bounds must be pyomo_relu.NeuronBounds, found "
                    f"{type(bounds).__name__}; "
                    "compute them with interval_bounds / lp_bounds / milp_bounds."
                )
            bounds.check_network(self._network)
            if new_bounds is None:
                new_bounds = bounds
            else:
                # both sets restricted to their common box, then intersected (never looser)
                bounds = _merge_box(
                    bounds, self._network, new_bounds.input_lb, new_bounds.input_ub, self.name
                )
                new_bounds = _merge_box(
                    new_bounds, self._network, bounds.input_lb, bounds.input_ub, self.name
                )
                new_bounds = new_bounds.intersect(bounds)
        new_formulation = getattr(self, "_formulation", None)
        if formulation is not None or new_formulation is None:
            new_formulation = get_formulation(formulation)
        start = time.perf_counter()
        try:
            prepared = new_formulation.prepare(
                self._network, new_bounds, workers=self._workers, progress=self._progress
            )
        except ReluError as exc:
            named = _named(exc, f"{self.name} (formulation {new_formulation.name!r})")
            if named is exc:
                raise
            raise named from None
        if prepared.original_bounds is not new_bounds:  # the formulation tightened them
            new_bounds = new_bounds.intersect(prepared.original_bounds)
        old_mip = self.component("mip")
        if old_mip is not None:
            self.del_component(old_mip)
        self._bounds, self._formulation, self._prepared = new_bounds, new_formulation, prepared
        self.mip = pyo.Block()
        self._box_rows()
        self._set_output_bounds()
        self._stats = new_formulation.build(
            self.mip, prepared, list(self.inputs.values()), self.outputs
        )
        self._build_time = time.perf_counter() - start

    def _box_rows(self):
        """Keep the inputs inside the box the bounds were computed for.

        A variable's own bounds are enough when they lie inside the box, except
        for the outputs of another network block: that block rewrites their
        bounds whenever it is rebuilt (wider ones for a wider box), and the rows
        written here would silently stop holding outside the old box.
        """
        lb, ub = self._bounds.input_lb, self._bounds.input_ub
        rows = {}
        for i, v in self.inputs.items():
            moving = _is_network_output(v)
            lo = None if not moving and v.lb is not None and v.lb >= lb[i] else float(lb[i])
            hi = None if not moving and v.ub is not None and v.ub <= ub[i] else float(ub[i])
            if lo is not None or hi is not None:
                rows[i] = (lo, v, hi)
        if rows:
            # a dict (not a lambda) as the rule keeps the model picklable
            self.mip.input_box = pyo.Constraint(list(rows), rule=rows)

    def _set_output_bounds(self):
        k = self._bounds.n_layers - 1
        lo, up = self._bounds.post_bounds(k)
        for j, v in self.outputs.items():
            v.setlb(float(lo[j]))
            v.setub(float(up[j]))

    # -- read-only facts -----------------------------------------------------
    @property
    def network(self) -> ReluNetwork:
        return self._network

    @property
    def bounds(self) -> NeuronBounds:
        """Sound bounds of the (original) network's pre-activations."""
        return self._bounds

    @property
    def formulation(self) -> str:
        return self._formulation.name

    @property
    def prepared(self):
        return self._prepared

    @property
    def build_stats(self):
        """The :class:`~pyomo_relu.formulations.BuildStats` of the current ``mip`` block."""
        return self._stats

    def preactivation(self, k: int, j: int):
        """Pyomo variable or expression of neuron ``(k, j)``'s pre-activation, in the block's rows.

        Its value is the pre-activation of the user's network (also when the
        formulation rescaled it): a variable for the neurons that have one (an
        unstable neuron's ``z``, a stable active neuron's ``y``, a linear output
        layer's outputs), else an affine expression of the previous layer.

        Raises
        ------
        BlockArgumentError
            If ``(k, j)`` is not a neuron of the network.
        NotApplicableError
            If the formulation has no per-neuron rows (``regions``).
        """
        sizes = [layer.n_out for layer in self._network.layers]
        valid = isinstance(k, (int, np.integer)) and isinstance(j, (int, np.integer))
        if not valid or not (0 <= k < len(sizes) and 0 <= j < sizes[k]):
            raise BlockArgumentError(
                f"{self.name}.preactivation: ({k!r}, {j!r}) is not a neuron; expected layer "
                f"0..{len(sizes) - 1} and neuron 0..(width - 1), widths {sizes}."
            )
        return self._formulation.preactivation(
            self.mip, self._prepared, list(self.inputs.values()), self.outputs, int(k), int(j)
        )

    def _output_position(self, label, what: str, where: str) -> int:
        """Position of output ``label`` (an index 0..n_outputs-1 or an output name)."""
        names = list(self._network.output_names)
        if isinstance(label, str):
            if label in names:
                return names.index(label)
        elif isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            if 0 <= label < len(names):
                return int(label)
        shown = names if len(names) <= 12 else names[:12] + ["..."]
        raise BlockArgumentError(
            f"{self.name}.{where}: {what} {label!r} is not an output of the network; expected an "
            f"index 0..{len(names) - 1} or one of the output names {shown}."
        )

    def margin(self, true_label, other):
        """Pyomo expression ``outputs[other] - outputs[true_label]`` (a logit margin).

        For a classifier, ``true_label`` is the class the input should keep and
        ``other`` a competing class: the margin is negative where the network
        prefers ``true_label`` to ``other``.  Maximizing it over an input set
        (``pyo.Objective(expr=m.nn.margin(t, j), sense=pyo.maximize)``) and
        finding a proven upper bound below 0 certifies that no input of the set
        is classified as ``other``.  To certify against every other class
        (``max_{j != t} margin(t, j) < 0``), solve one such problem per ``j``
        (skipping those whose margin bound from the output bounds is already
        negative, see :meth:`margin_bound`); docs/cnn.md compares this with one
        solve of a disjunctive maximum.

        Parameters
        ----------
        true_label, other : int or str
            Output positions (``0..n_outputs-1``) or output names; they must differ.

        Raises
        ------
        BlockArgumentError
            If a label is not an output of the network, or both name the same output.
        """
        t, j = self._margin_pair(true_label, other, "margin")
        return self.outputs[j] - self.outputs[t]

    def margin_bound(self, true_label, other) -> float:
        """A sound upper bound of :meth:`margin` over the block's input box, from its bounds.

        It is ``ub(z_other) - lb(z_true)`` of the output layer's bounds: a
        value below 0 certifies the pair without a solve.  Labels as in
        :meth:`margin`.
        """
        t, j = self._margin_pair(true_label, other, "margin_bound")
        lo, up = self._bounds.post_bounds(self._bounds.n_layers - 1)
        # rounded up: the float difference may fall below the exact one
        return float(np.nextafter(up[j] - lo[t], np.inf))

    def _margin_pair(self, true_label, other, where: str) -> tuple[int, int]:
        """Output positions ``(t, j)`` of a margin's labels; BlockArgumentError if bad or equal."""
        t = self._output_position(true_label, "true_label", where)
        j = self._output_position(other, "other", where)
        if t == j:
            raise BlockArgumentError(
                f"{self.name}.{where}: true_label {true_label!r} and other {other!r} are the same "
                "output, whose margin is 0 everywhere; pass a different class as other."
            )
        return t, j

    def _values(self, variables, what: str) -> np.ndarray:
        values = [v.value for v in variables]
        missing = [i for i, x in enumerate(values) if x is None]
        if missing:
            var = variables[missing[0]]
            raise NoValueError(
                f"{self.name}: {what} {missing[0]} (variable {var.name}) has no value; {what}s "
                "have values "
                "after a solve that found a solution (check the solver status), or after you set "
                "them."
            )
        return np.array(values, dtype=float)

    def input_values(self) -> np.ndarray:
        """Values of the input variables, shape (n_inputs,); NoValueError if one has none."""
        return self._values(list(self.inputs.values()), "input")

    def output_values(self) -> np.ndarray:
        """Values of the output variables, shape (n_outputs,); NoValueError if one has none."""
        return self._values(list(self.outputs.values()), "output")

    def prediction_error(self) -> float:
        """``max |forward(inputs) - outputs|`` at the current variable values (after a solve).

        Raises
        ------
        NoValueError
            If an input or output variable has no value (no solve yet, or no solution found).
        """
        return float(
            np.max(np.abs(self._network.forward(self.input_values()) - self.output_values()))
        )

    def summary(self) -> dict:
        """Sizes, formulation, bounds provenance, binaries and big-M statistics."""
        b = self._prepared.bounds
        piece = [k for k in range(b.n_layers) if b.is_piecewise(k)]
        big_m = b.unstable_big_m()
        n_piece = sum(len(b.lower[k]) for k in piece)
        n_stable = sum(int(b.stable(k).sum()) for k in piece)
        return {
            "layers": list(self._network.layer_sizes),
            "formulation": self.formulation,
            "bounds": sorted(set(self._bounds.methods)),
            "neurons": n_piece,
            "stable": n_stable,
            "stable_fraction": n_stable / n_piece if n_piece else 1.0,
            "binaries": self._stats.binaries,
            "max_M": float(big_m.max()) if big_m.size else 0.0,
            "mean_M": float(big_m.mean()) if big_m.size else 0.0,
            "variables": sum(1 for _ in self.mip.component_data_objects(pyo.Var)),
            "constraints": sum(1 for _ in self.mip.component_data_objects(pyo.Constraint)),
            "build_seconds": round(self._build_time, 4),
            # formulation-specific facts, e.g. the number of linear regions ("regions"/"auto")
            **self._stats.facts(),
        }
