"""Errors of the Hyperliquid venue layer.

::

    HlmakerError                         hlmaker.errors
    └── VenueError                       anything the venue layer raises on purpose
        ├── TransportError               connection refused/reset/closed, DNS, TLS, WS closed:
        │   │                            the outcome of an in-flight request is unknown
        │   ├── RequestTimeout           no answer within the per-request deadline (``.sent``)
        │   ├── ConnectionStalled        WS: nothing received for the silence timeout
        │   ├── ConsumerOverflow         WS: the frame consumer fell behind (see ws.py)
        │   └── WsProtocolError          WS: the server broke RFC 6455 (malformed, masked or
        │                                oversized frame, bad handshake; ``.code``)
        ├── HttpError                    a non-2xx HTTP reply (``.status_code``, ``.text``)
        │   ├── RateLimited              HTTP 429, IP weight limit (§8) (``.retry_after_s``)
        │   ├── ServerError              HTTP 5xx (also a WS ``post`` answered with type
        │   │                            ``error``: the action may have been applied)
        │   └── BadRequest               other 4xx, e.g. 422 "Failed to deserialize the JSON
        │                                body into the target type" (a bug on our side)
        ├── ExchangeError                ``{"status": "err", "response": text}`` → ``.text``
        ├── CodecError                   a frame/payload the codec cannot decode (the ONLY
        │                                error :func:`hlmaker.hyperliquid.codec.parse_frame`
        │                                raises)
        ├── KeyLoadError                 a private key could not be loaded (never shows it)
        ├── NumberFormatError (ValueError)  price/size not representable per szDecimals
        └── SignatureError (ValueError)  a signature that is malformed or recovers nothing

Exchange *refusals of individual orders or cancels* (``{"error": "…"}`` inside ``statuses``)
are data (:mod:`hlmaker.hyperliquid.codec` ``StatusError``), never exceptions. An address-based
rate-limit breach arrives as ``{"status": "err"}`` with HTTP 200 and is therefore an
:class:`ExchangeError`, not :class:`RateLimited` (protocol ref §8).

``RequestTimeout`` subclasses ``TransportError`` because for the caller both mean "the outcome
of this request is unknown" (reliability F6/F7); catch ``TransportError`` to treat them alike.
"""

from __future__ import annotations

from hlmaker.errors import HlmakerError


class VenueError(HlmakerError):
    """Root of every error the venue layer raises on purpose."""


class TransportError(VenueError):
    """The request could not be carried out at the transport level (its outcome is unknown)."""


class RequestTimeout(TransportError):
    """No response within the per-request timeout.

    ``sent`` is false when the request never left (it timed out waiting for an in-flight slot):
    then an action certainly did not land. Otherwise it may or may not have landed.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class ConnectionStalled(TransportError):
    """The WebSocket received nothing (not even a pong) for the silence timeout (reliability F5)."""


class ConsumerOverflow(TransportError):
    """The WebSocket frame buffer filled up with account events: the connection is dropped so
    that the reconnect path re-syncs (see :mod:`hlmaker.hyperliquid.ws`)."""


class WsProtocolError(TransportError):
    """The server broke RFC 6455 (or the handshake failed); ``code`` is the close code sent
    (1002 protocol error, 1007 invalid UTF-8, 1009 message too big). The session ends and
    the caller reconnects, like any other :class:`TransportError`."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


class HttpError(VenueError):
    """A non-2xx HTTP reply: ``status_code`` and the body ``text`` (an excerpt is shown)."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(f"HTTP {status_code}: {text[:200]}")
        self.status_code = status_code
        self.text = text


class RateLimited(HttpError):
    """HTTP 429: the IP's request weight is exhausted (protocol ref §1.1, §8).

    ``retry_after_s`` is the ``Retry-After`` header in seconds when the server sent one.
    """

    def __init__(self, status_code: int, text: str, retry_after_s: float | None = None) -> None:
        super().__init__(status_code, text)
        self.retry_after_s = retry_after_s


class ServerError(HttpError):
    """HTTP 5xx: the exchange failed; an action may or may not have landed."""


class BadRequest(HttpError):
    """HTTP 4xx other than 429: the exchange could not read the request (our bug)."""


class ExchangeError(VenueError):
    """The exchange refused the whole request: ``{"status": "err", "response": text}``.

    ``text`` is the exchange's message verbatim, e.g. ``"Invalid nonce: duplicate nonce 17"``
    (protocol ref §4.3).
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class CodecError(VenueError):
    """A frame or payload that does not have the shape the codec expects."""


class KeyLoadError(VenueError):
    """A private key could not be loaded. The message names the source, never the key."""


class NumberFormatError(VenueError, ValueError):
    """A price or size that violates the exchange's tick/lot rules (protocol ref §5.5)."""


class SignatureError(VenueError, ValueError):
    """A signature is malformed (bad r/s/v) or no public key can be recovered from it."""
