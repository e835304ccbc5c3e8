"""What the order core returns: :data:`Action`."""

from __future__ import annotations

from hlmaker.messages import Command, ReconcileRequest

Action = Command | ReconcileRequest
"""What the core asks its actor to do: send a command to the executor or a request to the
reconciler."""
