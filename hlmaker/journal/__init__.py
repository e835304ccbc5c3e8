"""The flight recorder: an SQLite journal of every book input, fill, order lifecycle event,
action, PnL mark and mid (:mod:`.recorder`), its schema (:mod:`.schema`), the exact message
codec (:mod:`.codec`), ``hlmaker replay`` (:mod:`.replay`) and ``hlmaker report``
(:mod:`.report`)."""

from hlmaker.journal.recorder import Journal, Mark, RunContext
from hlmaker.journal.schema import SCHEMA_VERSION, JournalError

__all__ = ["SCHEMA_VERSION", "Journal", "JournalError", "Mark", "RunContext"]
