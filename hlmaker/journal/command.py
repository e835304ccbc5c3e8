"""``hlmaker report`` and ``hlmaker replay``: read a journal (the path ``hlmaker run`` printed;
default: the most recently written journal in the user data directory)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from hlmaker.journal.schema import JournalError


def parse_time(text: str) -> int:
    """``T`` of ``--since``/``--until``: ms since the epoch, or an ISO 8601 time (UTC unless it
    names a zone), e.g. ``2026-12-01T16:05:00``.

    Raises:
        click.BadParameter: neither.
    """
    if text.isdigit():
        return int(text)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: give ms since the epoch or an ISO time such as "
                                 "2026-12-01T16:05:00") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _path(path: str | None) -> Path:
    if path:
        return Path(path)
    from hlmaker.journal.paths import journals_dir, latest_journal

    found = latest_journal()
    if found is None:
        click.echo(f"hlmaker: no journal in {journals_dir()}; give its path", err=True)
        sys.exit(2)
    click.echo(f"journal: {found}", err=True)
    return found


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--since", default=None, help="Only from this time (ms or ISO 8601, UTC).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML page with the plots.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def report_command(path: str | None, since: str | None, html_out: str | None,
                   as_json: bool) -> None:
    """Summarize a journal: PnL to date, fills, markouts, ack latency, gaps (and plots)."""
    from hlmaker.journal import analysis, report

    p = _path(path)
    try:
        session = analysis.load_session(p, parse_time(since) if since else None)
    except JournalError as exc:
        click.echo(f"hlmaker: {exc}", err=True)
        sys.exit(2)
    summary = analysis.summary(session)
    click.echo(analysis.to_json(summary) if as_json else report.terminal_text(summary))
    if html_out:
        report.write_html(session, summary, html_out)
        click.echo(f"report: {html_out}", err=True)


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--until", default=None,
              help="Stop at this time (ms or ISO 8601, UTC) and print the book as it was.")
@click.option("--run", "run_id", type=int, default=None, help="Which run (default: the last).")
def replay_command(path: str | None, until: str | None, run_id: int | None) -> None:
    """Re-derive a journaled run's book from its inputs; exit 0 only when it matches."""
    from hlmaker.journal.replay import replay

    # the core's warnings (orphans, unknown outcomes…) were logged by the live run already
    logging.getLogger("hlmaker").setLevel(logging.ERROR)
    p = _path(path)
    try:
        r = replay(p, run_id=run_id, until_ms=parse_time(until) if until else None)
    except JournalError as exc:
        click.echo(f"hlmaker: {exc}", err=True)
        sys.exit(2)
    click.echo(f"run {r.run_id}: replayed {r.steps} of {r.journal_steps} steps, "
               f"{r.snapshots_checked} snapshots checked")
    click.echo(f"digest   {r.digest}")
    click.echo(f"journal  {r.journal_digest}")
    if until and r.view is not None:
        v = r.view
        click.echo(f"book at {v.at_ms}: synced={v.is_synced} ready={v.ready} "
                   f"unresolved={v.unresolved}")
        click.echo("positions: " + (", ".join(f"{c}={q}" for c, q in sorted(
            v.positions.items()) if q) or "flat"))
        for o in v.orders:
            click.echo(f"  {o.cloid} oid={o.oid} {o.coin} {o.side} {o.sz}@{o.px} "
                       f"filled={o.filled_sz} {o.state}")
        click.echo("last steps (seq, now_ms, input, actions):")
        for seq, now, kind, actions in r.last_inputs:
            click.echo(f"  {seq} {now} {kind} {actions[:300]}")
        sys.exit(0 if not r.mismatches and r.gap is None else 1)
    for m in r.mismatches:
        click.echo(f"MISMATCH {m}")
    if r.gap:
        click.echo(f"HOLE {r.gap}")
    click.echo("MATCH" if r.matched else "NO MATCH")
    sys.exit(0 if r.matched else 1)
