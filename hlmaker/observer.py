"""The observer seam: one object, given at construction, that carries every probe.

The deterministic campaign (:mod:`hlmaker.chaos`), the benchmarks, the Prometheus metrics and the
UI all need to see inside the running system. They do it only through an :class:`Observer` passed
to :func:`hlmaker.maker.open_maker`, the simulator and the actors when they are built — never by
replacing a method of a project class or instance.

Contract for implementers:

* Every method is called synchronously from inside the component it observes (the order core and
  the book actor included), so it must be cheap, must not block, must not await and must not
  raise: an exception escapes into the caller.
* An observer sees; it never changes what it is shown (messages and actions are frozen attrs
  values; do not mutate the sequences).
* The base class implements every probe as a no-op; subclass it and override what you need.
  :class:`Observers` fans one call out to several observers, in order.

Units: ``now_ms`` in ms since the epoch (the component's injected clock); ``seconds`` from trio's
clock (:func:`trio.current_time`, which is virtual under ``MockClock``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class Observer:
    """A no-op observer: subclass and override the probes you need (see the module docstring)."""

    # ---- order core ---------------------------------------------------------------------------
    def core_step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        """The book applied one inbox message (``msg``), or ran its timer (``msg is None``), at
        ``now_ms`` and the order core returned ``actions`` (commands and reconcile requests)."""

    def order_finalized(self, how: str) -> None:
        """A pending order was finalized by its oid; ``how`` names the path
        (:class:`hlmaker.orders.records.Finalize` value)."""

    def order_rebound(self) -> None:
        """A tracked order moved to a new oid (a modify's replacement leg)."""

    # ---- book actor ---------------------------------------------------------------------------
    def book_batch(self, messages: int, seconds: float) -> None:
        """The book applied a batch of ``messages`` inbox messages in ``seconds`` (from taking
        the first to having sent every resulting command)."""

    def view_published(self) -> None:
        """The book published a new :class:`~hlmaker.messages.BookView` (possibly lazily)."""

    # ---- feed ---------------------------------------------------------------------------------
    def feed_connected(self, reconnect: bool, buffered: Callable[[], int]) -> None:
        """The feed's WebSocket session subscribed (``reconnect``: not its first session).
        ``buffered()`` tells how many decoded frames wait in that session's buffer (the
        :class:`~hlmaker.hyperliquid.ws.WsClient`'s, bounded): a read-only gauge, valid while
        the session lives (benchmarks/ingest.py samples it)."""

    # ---- executor and venue -------------------------------------------------------------------
    def command_received(self, command: object) -> None:
        """The executor took ``command`` (a :data:`hlmaker.messages.Command`) from its inbox."""

    def request_finished(self, kind: str, seconds: float) -> None:
        """One exchange request of ``kind`` (action type) finished after ``seconds``."""

    def nonce_issued(self, signer: str, nonce: int) -> None:
        """The nonce manager issued ``nonce`` (ms) for ``signer`` (0x address)."""

    def action_signed(self, request_id: int, kind: str, nonce: int) -> None:
        """The executor signed one action of ``kind`` (``place``, ``cancel``, ``modify``,
        ``schedule_cancel``) with ``nonce`` for the book's command ``request_id`` (a command
        split into chunks signs several)."""

    # ---- supervisor ---------------------------------------------------------------------------
    def actor_restarted(self, actor: str) -> None:
        """``actor`` failed and the supervisor counted it in ``restarts`` (it restarts it, or —
        past the restart intensity — gives up after this call)."""


class Observers(Observer):
    """Fans every probe out to ``observers``, in the order given."""

    def __init__(self, *observers: Observer) -> None:
        # The shared no-op observer is left out: a probe on the hot path (core_step runs per
        # inbox message) then costs one call per observer that listens.
        self.observers = tuple(o for o in observers if o is not NO_OBSERVER)

    def core_step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        for o in self.observers:
            o.core_step(msg, now_ms, actions)

    def order_finalized(self, how: str) -> None:
        for o in self.observers:
            o.order_finalized(how)

    def order_rebound(self) -> None:
        for o in self.observers:
            o.order_rebound()

    def book_batch(self, messages: int, seconds: float) -> None:
        for o in self.observers:
            o.book_batch(messages, seconds)

    def view_published(self) -> None:
        for o in self.observers:
            o.view_published()

    def feed_connected(self, reconnect: bool, buffered: Callable[[], int]) -> None:
        for o in self.observers:
            o.feed_connected(reconnect, buffered)

    def command_received(self, command: object) -> None:
        for o in self.observers:
            o.command_received(command)

    def request_finished(self, kind: str, seconds: float) -> None:
        for o in self.observers:
            o.request_finished(kind, seconds)

    def nonce_issued(self, signer: str, nonce: int) -> None:
        for o in self.observers:
            o.nonce_issued(signer, nonce)

    def action_signed(self, request_id: int, kind: str, nonce: int) -> None:
        for o in self.observers:
            o.action_signed(request_id, kind, nonce)

    def actor_restarted(self, actor: str) -> None:
        for o in self.observers:
            o.actor_restarted(actor)


NO_OBSERVER = Observer()
"""The shared no-op observer, the default wherever an observer is optional."""
