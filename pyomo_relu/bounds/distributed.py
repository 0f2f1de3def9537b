"""A ``concurrent.futures`` executor on a Ray cluster, for the layer-wise tightening.

dask needs no adapter: ``distributed.Client(address).get_executor(pure=False)``
already is a ``concurrent.futures.Executor``.  Ray has none, so
:class:`RayExecutor` is one: each ``submit(fn, *args)`` becomes a Ray task
``ray.remote(fn).remote(*args)`` whose ``ObjectRef.future()`` is returned.
Pass it as ``executor=`` to :func:`~pyomo_relu.bounds.lp.lp_bounds`,
:func:`~pyomo_relu.bounds.milp.milp_bounds` or ``relu.tighten_bounds``; see
``docs/distributed.md``.  Ray is imported on first use (``pip install
"pyomo_relu[distributed]"``).
"""

from __future__ import annotations

from concurrent.futures import Executor, Future

from ..errors import SolverUnavailableError, UnknownOptionError

__all__ = ["RayExecutor"]


class RayExecutor(Executor):
    """Runs each submitted call as one Ray task of ``num_cpus`` CPUs.

    Parameters
    ----------
    num_cpus : float
        CPUs Ray reserves per task (1: one chunk per core; the HiGHS and SCIP
        solves of a chunk use one thread).

    Connect to (or start) the Ray cluster first with ``ray.init(...)``; otherwise
    Ray starts a local one on the first ``submit``.  A task that Ray gives up on
    (a lost node after its retries) makes its future raise; the tightening then
    solves the remaining chunks in the calling process with an
    ``ExecutorWarning``.  Cancelling a future (as Ctrl-C does) cancels its task.
    """

    def __init__(self, *, num_cpus: float = 1):
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or num_cpus <= 0:
            raise UnknownOptionError(
                f"RayExecutor: num_cpus must be a number of CPUs > 0 per task, found {num_cpus!r}."
            )
        self.num_cpus = num_cpus
        self._remote = {}  # fn -> its Ray remote function, made once
        self._shutdown = False

    @staticmethod
    def _ray():
        try:
            import ray
        except ImportError as exc:
            raise SolverUnavailableError(
                'RayExecutor needs Ray: pip install "pyomo_relu[distributed]" (or pip install '
                "ray), or use dask's distributed.Client(...).get_executor(pure=False)."
            ) from exc
        return ray

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Run ``fn(*args, **kwargs)`` as a Ray task; its ``concurrent.futures.Future``."""
        if self._shutdown:
            raise RuntimeError("RayExecutor: cannot submit after shutdown()")
        ray = self._ray()
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=self.num_cpus)(fn)
        ref = remote.remote(*args, **kwargs)
        fut = ref.future()

        def cancel_task(done: Future) -> None:
            if done.cancelled():
                ray.cancel(ref)

        fut.add_done_callback(cancel_task)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new tasks (the Ray cluster itself stays up: ``ray.shutdown()`` stops it)."""
        self._shutdown = True
