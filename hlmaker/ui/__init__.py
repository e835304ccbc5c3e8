"""Operator output: a rich live dashboard (:mod:`.dashboard`) and a key=value status log, both
rendering a :class:`~hlmaker.ui.status.Status` snapshot, which :func:`.bridge.status_of` builds
from a running maker read through the typed :class:`.bridge.MakerView`."""

from hlmaker.ui.dashboard import render, run_dashboard, run_status_log, status_line
from hlmaker.ui.status import CoinQuotes, Status

__all__ = ["CoinQuotes", "Status", "render", "run_dashboard", "run_status_log", "status_line"]
