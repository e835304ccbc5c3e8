"""``hlmaker report``: a journal as a terminal summary and a self-contained HTML page.

The page holds one Plotly figure per question (:mod:`.analysis` explains each figure's
arithmetic) and Plotly's JavaScript inlined, so it opens offline from a single file. A small
script at the end of the page records script errors and counts the plots that rendered in
``<body data-errors=… data-rendered=…>`` (the headless-browser test reads them).
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
import plotly.offline
from plotly.subplots import make_subplots

from hlmaker.journal import analysis
from hlmaker.journal.analysis import HORIZONS_S, Session

PLOTS = ("pnl", "positions", "quotes", "markouts", "spread", "fill_rate", "latency",
         "anomalies")
"""The ``id`` of every plot ``div`` on the page, in order."""

COLORS = {"B": "#1f77b4", "A": "#d62728"}


def _t(ms: list[int] | list[Any]) -> list[datetime]:
    return [datetime.fromtimestamp(m / 1000, UTC) for m in ms]


def _level_name(level: int | None) -> str:
    return "?" if level is None else f"L{level}"


def figures(session: Session) -> dict[str, go.Figure]:
    """One figure per entry of :data:`PLOTS`."""
    figs: dict[str, go.Figure] = {}
    times, pnl, fees = analysis.realized_series(session)
    f = go.Figure()
    f.add_scatter(x=_t(times), y=[float(v) for v in pnl], name="realized (net of fees)",
                  line_shape="hv")
    f.add_scatter(x=_t(times), y=[float(v) for v in fees], name="fees paid", line_shape="hv")
    um = [m for m in session.marks if m["unrealized"] is not None]
    f.add_scatter(x=_t([m["at_ms"] for m in um]), y=[float(m["unrealized"]) for m in um],
                  name="unrealized", mode="lines+markers")
    f.update_layout(title="PnL over time (quote currency)")
    figs["pnl"] = f

    f = go.Figure()
    coins = sorted({c for m in session.marks for c in m["positions"]})
    for coin in coins:
        f.add_scatter(x=_t([m["at_ms"] for m in session.marks]),
                      y=[float(m["positions"].get(coin, 0)) for m in session.marks],
                      name=coin, line_shape="hv")
    f.update_layout(title="Position per coin (coin units)")
    figs["positions"] = f

    quoted = sorted({c for _, c, _, _, _ in session.quotes} | set(session.mids))
    f = make_subplots(rows=max(1, len(quoted)), cols=1, shared_xaxes=True,
                      subplot_titles=quoted or ["no quotes"])
    for row, coin in enumerate(quoted, start=1):
        ts, ms = session.mids.get(coin, ([], []))
        f.add_scatter(x=_t(ts), y=[float(m) for m in ms], name=f"{coin} mid", row=row, col=1,
                      line={"color": "black", "width": 1})
        for side in ("B", "A"):
            q = [x for x in session.quotes if x[1] == coin and x[2] == side]
            f.add_scatter(x=_t([x[0] for x in q]), y=[float(x[3]) for x in q], mode="markers",
                          marker={"size": 3, "color": COLORS[side], "opacity": 0.4},
                          name=f"{coin} {'bids' if side == 'B' else 'asks'}", row=row, col=1)
            fl = [x for x in session.fills if x.coin == coin and x.side == side]
            f.add_scatter(x=_t([x.time_ms for x in fl]), y=[float(x.px) for x in fl],
                          mode="markers", name=f"{coin} {side} fills", row=row, col=1,
                          marker={"size": 9, "symbol": "x", "color": COLORS[side]})
    f.update_layout(title="Our quotes against the mid, fills marked",
                    height=320 * max(1, len(quoted)))
    figs["quotes"] = f

    f = go.Figure()
    mk = analysis.markouts(session)
    groups = sorted({(s, lv) for s, lv, _ in mk}, key=lambda k: (k[0], k[1] if k[1] is not None
                                                                    else -1))
    for side, level in groups:
        ys = [mk.get((side, level, h), []) for h in HORIZONS_S]
        f.add_bar(x=[f"{h}s" for h in HORIZONS_S],
                  y=[sum(v) / len(v) if v else None for v in ys],
                  text=[f"n={len(v)}" for v in ys],
                  name=f"{'bid' if side == 'B' else 'ask'} {_level_name(level)}")
    f.update_layout(title="Fill markouts: mean bps by horizon, side and ladder level "
                    "(negative = adverse selection)", barmode="group")
    figs["markouts"] = f

    f = go.Figure()
    for side, vals in sorted(analysis.spread_captured(session).items()):
        f.add_histogram(x=vals, name="bids" if side == "B" else "asks", opacity=0.7,
                        marker_color=COLORS.get(side))
    f.update_layout(title="Spread captured per fill (bps from the mid at the fill)",
                    barmode="overlay")
    figs["spread"] = f

    f = go.Figure()
    rates = analysis.fill_rate(session)
    for side in ("B", "A"):
        keys = [k for k in rates if k[0] == side]
        f.add_bar(x=[_level_name(k[1]) for k in keys],
                  y=[rates[k][0] / rates[k][1] if rates[k][1] else None for k in keys],
                  text=[f"{rates[k][0]}/{rates[k][1]}" for k in keys],
                  name="bids" if side == "B" else "asks", marker_color=COLORS[side])
    f.update_layout(title="Fill rate per ladder level (fills / orders placed or moved)",
                    barmode="group")
    figs["fill_rate"] = f

    f = go.Figure()
    for kind, vals in sorted(session.latencies.items()):
        f.add_histogram(x=vals, name=kind, opacity=0.7)
    beat = session.fills_before_ack
    f.update_layout(title=f"Ack latency (ms, command to first outcome) — a fill beat its ack "
                    f"{beat} of {session.acks} times", barmode="overlay")
    figs["latency"] = f

    f = go.Figure()
    names = sorted({k for m in session.marks for k, v in m["counters"].items()
                    if k not in ("fills_applied", "volume", "closed_pnl", "fees") and v})
    for name in names:
        f.add_scatter(x=_t([m["at_ms"] for m in session.marks]),
                      y=[int(m["counters"].get(name, 0)) for m in session.marks], name=name,
                      line_shape="hv")
    f.add_scatter(x=_t([m["at_ms"] for m in session.marks]),
                  y=[m["dropped"] + m["write_errors"] for m in session.marks],
                  name="journal dropped + write errors", line_shape="hv")
    f.update_layout(title="Anomaly counters over time (per run, cumulative)")
    figs["anomalies"] = f
    return figs


_CHECK = """<script>
window.addEventListener('load', function () {
  setTimeout(function () {
    var n = 0;
    document.querySelectorAll('.plot').forEach(function (d) {
      if (d.querySelector('.main-svg')) { n += 1; }
    });
    document.body.setAttribute('data-rendered', String(n));
    document.body.setAttribute('data-errors', window.__errors.join(' | '));
  }, 500);
});
</script>"""


def html_page(session: Session, summary: dict[str, Any]) -> str:
    """The self-contained page (Plotly's JavaScript inlined)."""
    divs = []
    for name, fig in figures(session).items():
        fig.update_layout(template="plotly_white", margin={"t": 60})
        divs.append(f'<div class="plot" id="{name}">'
                    + fig.to_html(full_html=False, include_plotlyjs=False,
                                  div_id=f"{name}-figure", config={"responsive": True})
                    + "</div>")
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in summary.items() if k != "per_run")
    runs = "".join(
        f"<tr><td>{r['run_id']}</td><td>{r['network']}</td><td>{_fmt_ms(r['started_ms'])}</td>"
        f"<td>{_fmt_ms(r['ended_ms']) if r['ended_ms'] else 'killed / running'}</td>"
        f"<td>{r['fills']}</td><td>{r['realized_pnl']}</td></tr>" for r in summary["per_run"])
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>hlmaker report — {html.escape(session.path)}</title>
<script>window.__errors = [];
window.addEventListener('error', function (e) {{ window.__errors.push(String(e.message)); }});
</script>
<script>{plotly.offline.get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;margin:1em 2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}} .plot{{margin:1em 0}}</style>
</head><body data-rendered="0" data-errors="">
<h1>hlmaker session report</h1><p>{html.escape(session.path)}</p>
<table>{rows}</table>
<h2>Runs</h2><table><tr><th>run</th><th>network</th><th>started</th><th>ended</th>
<th>fills</th><th>realized PnL</th></tr>{runs}</table>
{''.join(divs)}
{_CHECK}
</body></html>
"""


def _fmt_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def terminal_text(summary: dict[str, Any]) -> str:
    """The terminal summary: one ``key: value`` line per figure, then one line per run."""
    lines = [f"{k}: {v}" for k, v in summary.items() if k != "per_run"]
    for r in summary["per_run"]:
        end = _fmt_ms(r["ended_ms"]) if r["ended_ms"] else "no clean end (killed or running)"
        lines.append(f"run {r['run_id']} {r['network']} {_fmt_ms(r['started_ms'])} → {end}: "
                     f"fills={r['fills']} realized_pnl={r['realized_pnl']}")
    return "\n".join(lines)


def write_html(session: Session, summary: dict[str, Any], out: str | os.PathLike[str]) -> None:
    """Write :func:`html_page` to ``out``."""
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(html_page(session, summary))
