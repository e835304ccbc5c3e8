"""Where journals live by default: one file per network and account in the user's data
directory (``platformdirs``: ``~/.local/share/hlmaker/journals/`` on Linux,
``~/Library/Application Support/hlmaker/journals/`` on macOS)."""

from __future__ import annotations

from pathlib import Path

import platformdirs


def journals_dir() -> Path:
    """The directory holding the default journals."""
    return Path(platformdirs.user_data_dir("hlmaker", appauthor=False)) / "journals"


def default_journal_path(network: str, account: str) -> Path:
    """``<data dir>/journals/<network>-<account>.sqlite`` (account: lower-case 0x address)."""
    return journals_dir() / f"{network}-{account.lower()}.sqlite"


def latest_journal() -> Path | None:
    """The most recently written default journal, or None."""
    files = sorted(journals_dir().glob("*.sqlite"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None
