"""Run the simulator in a background thread with its own ``trio.run``.

For blocking clients (the official SDK, whose ``Info``/``Exchange`` are synchronous) and for
``hlmaker run``'s in-process simulator::

    with SimulatorThread(seed=1, epoch_ms=int(time.time() * 1000)) as sim:
        info = Info(sim.base_url, skip_ws=True)
        sim.call(sim.engine.position, address, "BTC")   # executed in the simulator's thread
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import trio

from hlmaker.sim.engine import Engine
from hlmaker.sim.server import Simulator, open_simulator


class SimulatorThread:
    """Run :func:`open_simulator` in a background thread with its own ``trio.run``.

    For blocking clients (the official SDK) and for ``hlmaker run``'s in-process simulator.
    Keyword arguments are those of :func:`open_simulator` (``epoch_ms`` is required unless a
    ``clock`` factory is not needed — a ``Clock`` must be created inside the thread, so only
    ``epoch_ms`` is accepted here). Use as a context manager or call :meth:`start`/:meth:`stop`.
    """

    def __init__(self, *, epoch_ms: int, **kwargs: Any) -> None:
        if "clock" in kwargs:
            raise ValueError("SimulatorThread takes epoch_ms, not clock")
        self._kwargs = dict(kwargs, epoch_ms=epoch_ms)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._error: BaseException | None = None
        self.sim: Simulator | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running simulator."""
        assert self.sim is not None, "simulator not started"
        return self.sim.base_url

    @property
    def engine(self) -> Engine:
        """The engine (read it through :meth:`call` while the simulator runs)."""
        assert self.sim is not None, "simulator not started"
        return self.sim.engine

    def start(self, timeout_s: float = 10.0) -> SimulatorThread:
        """Start the thread and wait until the server listens.

        Raises:
            RuntimeError: it did not start in time, or failed (the cause is chained).
        """
        self._thread = threading.Thread(target=self._run, name="hlmaker-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self.sim is None:
            raise RuntimeError("simulator did not start") from self._error
        return self

    def _run(self) -> None:
        async def main() -> None:
            self._stop = trio.Event()
            self._token = trio.lowlevel.current_trio_token()
            async with open_simulator(**self._kwargs) as sim:
                self.sim = sim
                self._ready.set()
                await self._stop.wait()

        try:
            trio.run(main)
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the simulator's thread (safe access to engine state)."""
        assert self._token is not None, "simulator not started"
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server and join the thread."""
        if self._thread is None:
            return
        if self._token is not None and self._stop is not None and self._thread.is_alive():
            with suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(timeout_s)
        self._thread = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
