"""Where the tuner's cost-model batches run: in-process (default), a process pool, or Ray.

    executor = make_executor("pool:4")        # or "inprocess", "ray", "ray:ADDRESS"
    results = executor.map(score_task, payloads)   # in the order of payloads
    executor.close()

`map(fn, payloads)` runs a module-level function on picklable payloads and returns the results
in order; the tuner logs them and tells the strategies in that order, so every executor gives
the same run. The pool uses the `spawn` start method (JAX does not survive `fork`). Ray is an
optional extra (`pip install 'accelflow[ray]'`): `ray` starts a local instance, `ray:auto` or
`ray:HOST:PORT` joins a running cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from simulator.errors import AccelflowError


class ExecutorError(AccelflowError):
    """An executor that cannot be started (bad spec, Ray not installed)."""


class Executor(Protocol):
    name: str

    def map(self, fn: Callable[[Any], Any], payloads: Sequence[Any]) -> list[Any]: ...

    def close(self) -> None: ...


class InProcess:
    name = "inprocess"

    def map(self, fn: Callable[[Any], Any], payloads: Sequence[Any]) -> list[Any]:
        return [fn(p) for p in payloads]

    def close(self) -> None:
        pass


def die_with_parent(parent: int) -> None:
    """A pool worker's initializer: the worker ends when the process that started it does, even
    when that one is killed (SIGKILL leaves no chance to shut the pool down): on Linux the
    kernel sends it SIGKILL (prctl PR_SET_PDEATHSIG), elsewhere a thread polls the parent."""
    import os
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        if os.getppid() != parent:  # it died before the call
            os._exit(1)
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class ProcessPool:
    """A pool of `workers` processes (spawned); one payload per task."""

    def __init__(self, workers: int | None = None):
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or os.cpu_count() or 1
        self.name = f"pool:{self.workers}"
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )

    def map(self, fn: Callable[[Any], Any], payloads: Sequence[Any]) -> list[Any]:
        return list(self._pool.map(fn, payloads))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Tasks on a Ray cluster: `address` None starts a local instance (`num_cpus` CPUs)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise ExecutorError(
                "the ray executor needs Ray: pip install 'accelflow[ray]'"
            ) from None
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            elif num_cpus:
                kwargs["num_cpus"] = num_cpus
            ray.init(**kwargs)
        self.name = f"ray:{address}" if address else "ray"
        self._remote: dict[Callable[[Any], Any], Any] = {}

    def map(self, fn: Callable[[Any], Any], payloads: Sequence[Any]) -> list[Any]:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(fn)
        refs = [self._remote[fn].remote(p) for p in payloads]
        return list(self._ray.get(refs))

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


def make_executor(spec: str = "inprocess") -> Executor:
    """`inprocess`, `pool` / `pool:N`, `ray` / `ray:ADDRESS`."""
    kind, _, arg = spec.partition(":")
    if kind == "inprocess" and not arg:
        return InProcess()
    if kind == "pool":
        try:
            workers = int(arg) if arg else None
        except ValueError:
            raise ExecutorError(f"executor '{spec}': pool:N takes a number of workers") from None
        if workers is not None and workers < 1:
            raise ExecutorError(f"executor '{spec}': needs at least 1 worker")
        return ProcessPool(workers)
    if kind == "ray":
        return RayExecutor(arg or None)
    raise ExecutorError(f"unknown executor '{spec}' (inprocess, pool[:N], ray[:ADDRESS])")
