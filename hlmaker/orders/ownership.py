"""Which orders on the account are ours: the cloid namespace, and the cloid generator.

Hyperliquid lets a client tag each order with a 16-byte client order id (``cloid``, ``0x`` + 32
hex digits; protocol ref §4.1). hlmaker owns exactly the orders whose cloid starts with its
*prefix* — a few hex digits derived from the maker's configured name (``[maker] name``) or set
explicitly (``[maker] cloid_prefix``). Every other order on the account (no cloid, or another
prefix) is **foreign**: observed and reported, never cancelled unless the policy says
``foreign_orders = "cancel"``.

A cloid this maker places is laid out as::

    0x | prefix (1–8 hex) | session (≥ 12 hex, random per process) | sequence (12 hex)

The session is drawn once per process (from the OS on real networks, from the injected
``random.Random`` in the deterministic campaign) and the sequence counts up, so one process
never repeats a cloid and two processes (or two runs against a simulator with the same seed)
collide only if their 48-bit sessions do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Literal

import attrs

from hlmaker.errors import ConfigError

CLOID_HEX = 32
"""Hex digits of a cloid after ``0x`` (16 bytes, protocol ref §4.1)."""
PREFIX_MAX_HEX = 8
"""The longest prefix: the rest (≥ 24 hex digits) is the session and the sequence."""
SEQUENCE_HEX = 12
DEFAULT_NAME = "hlmaker"

ForeignPolicy = Literal["ignore", "cancel"]
StartPolicy = Literal["cancel", "adopt"]

_HEX = re.compile(r"[0-9a-f]+")


def prefix_for(name: str) -> str:
    """The default prefix of a maker named ``name``: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:PREFIX_MAX_HEX]


def check_prefix(prefix: str, field: str = "maker.cloid_prefix") -> str:
    """``prefix`` lower-cased (an optional ``0x`` removed), after checking it is 1 to
    :data:`PREFIX_MAX_HEX` hex digits.

    Raises:
        ConfigError: naming ``field``, when it is empty, not hex, or too long.
    """
    p = prefix.lower()
    if p.startswith("0x"):
        p = p[2:]
    if not p or _HEX.fullmatch(p) is None:
        raise ConfigError(field, f"must be 1 to {PREFIX_MAX_HEX} hex digits (0-9, a-f), "
                          f"e.g. \"a1b2\"; got {prefix!r}")
    if len(p) > PREFIX_MAX_HEX:
        raise ConfigError(field, f"is {len(p)} hex digits; at most {PREFIX_MAX_HEX} "
                          f"(the rest of the 32-digit cloid is random); got {prefix!r}")
    return p


@attrs.frozen(kw_only=True)
class Ownership:
    """What is ours on the account, and what to do with the rest.

    ``prefix``: hex digits (no ``0x``) every cloid of ours starts with; ``foreign_orders``:
    ``"ignore"`` (default; never touched) or ``"cancel"`` (cancelled like orphans, after the
    grace period); ``on_start``: what a new book does with orders of ours it did not place —
    ``"cancel"`` (default; at once, confirmed by a sweep, before quoting) or ``"adopt"`` (tracked
    as live orders the ladder may reuse).
    """

    prefix: str = attrs.field(default=prefix_for(DEFAULT_NAME), converter=check_prefix)
    foreign_orders: ForeignPolicy = "ignore"
    on_start: StartPolicy = "cancel"

    def __attrs_post_init__(self) -> None:
        if self.foreign_orders not in ("ignore", "cancel"):
            raise ConfigError("maker.foreign_orders", "must be \"ignore\" or \"cancel\"; got "
                              f"{self.foreign_orders!r}")
        if self.on_start not in ("cancel", "adopt"):
            raise ConfigError("maker.on_start", "must be \"cancel\" or \"adopt\"; got "
                              f"{self.on_start!r}")

    def is_ours(self, cloid: str | None) -> bool:
        """True when ``cloid`` carries our prefix (case-insensitive); ``None`` is foreign."""
        return cloid is not None and cloid[2:].lower().startswith(self.prefix) \
            and cloid[:2].lower() == "0x"


class CloidSource:
    """Fresh cloids of one process: ``0x`` + prefix + session + sequence (module docstring).

    Args:
        prefix: hex digits (checked by :func:`check_prefix`).
        randbits: the randomness seam, ``randbits(k) -> int`` in ``[0, 2**k)``: ``secrets.
            randbits`` on real networks, an injected ``random.Random().getrandbits`` inside the
            deterministic campaign. Called once, here, for the session.
    """

    def __init__(self, prefix: str, randbits: Callable[[int], int]) -> None:
        self.prefix = check_prefix(prefix)
        session_hex = CLOID_HEX - len(self.prefix) - SEQUENCE_HEX
        self.session = f"{randbits(session_hex * 4):0{session_hex}x}"
        self._head = "0x" + self.prefix + self.session
        self._seq = 0

    @classmethod
    def resume(cls, prefix: str, session: str, seq: int) -> CloidSource:
        """The source whose :meth:`state` was ``(prefix, session, seq)`` (a journal replay
        rebuilds the cloids a book drew)."""
        source = cls(prefix, lambda k: int(session, 16))
        source._seq = seq
        return source

    def state(self) -> tuple[str, str, int]:
        """``(prefix, session, cloids drawn so far)``."""
        return self.prefix, self.session, self._seq

    def next(self) -> str:
        """The next cloid (never repeats within this source)."""
        self._seq += 1
        return f"{self._head}{self._seq:0{SEQUENCE_HEX}x}"

    def placed_here(self, cloid: str | None) -> bool:
        """True when ``cloid`` came from this source (this process)."""
        return cloid is not None and cloid.lower().startswith(self._head)

    def drawn_after(self, cloid: str | None, drawn: int) -> bool:
        """True when ``cloid`` came from this source after its first ``drawn`` cloids: one
        a book incarnation built when :meth:`state` said ``drawn`` placed itself (an earlier
        incarnation of the same process — a crashed book — drew the ones up to ``drawn``)."""
        if not self.placed_here(cloid) or cloid is None or len(cloid) != 2 + CLOID_HEX:
            return False
        tail = cloid[-SEQUENCE_HEX:].lower()
        return _HEX.fullmatch(tail) is not None and int(tail, 16) > drawn
