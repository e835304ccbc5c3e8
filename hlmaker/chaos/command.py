"""``hlmaker chaos``: deterministic-simulation campaigns from the command line.

The click command is :data:`chaos_command` (registered by ``hlmaker/cli.py``)::

    hlmaker chaos --seeds 100 --sim-minutes 2                 # seeds 1..100, all faults
    hlmaker chaos --seeds 2000 --sim-minutes 10 --json out.json
    hlmaker chaos --seeds 50 --faults F3,F6,F9 --first-seed 1000
    hlmaker chaos --seed 4711 --sim-minutes 10                # one seed, in detail
    hlmaker chaos --scenario all                              # the scripted F1–F19 scenarios

It prints the report template of ``reliability.md`` with a table per fault and per invariant,
and for each failing seed the exact command reproducing it. Exit status: 0 when no invariant was
violated, 1 otherwise (2 for bad options).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hlmaker.chaos.campaign import reproduce_command, run_campaign
from hlmaker.chaos.plan import FAULT_IDS
from hlmaker.chaos.runner import SeedResult


def parse_faults(text: str) -> tuple[str, ...] | None:
    """``all`` → ``None``; else a comma list of catalogue ids (``F3,F6``), validated."""
    if text.strip().lower() == "all":
        return None
    out = []
    for item in text.split(","):
        fid = item.strip().upper()
        if not fid:
            continue
        if fid not in FAULT_IDS:
            raise click.BadParameter(f"unknown fault {item!r}; use F1 … F18 or 'all'",
                                     param_hint="--faults")
        if fid not in out:
            out.append(fid)
    if not out:
        raise click.BadParameter("no fault given", param_hint="--faults")
    return tuple(sorted(out, key=FAULT_IDS.index))


def _fmt_s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _describe_seed(r: SeedResult, minutes: float, faults: tuple[str, ...] | None) -> str:
    st = r.stats
    lines = [
        f"seed {r.seed}: {r.plan}",
        f"  digest {r.digest}",
        f"  core digest {r.core_digest}",
        f"  simulated {r.sim_seconds:.0f} s in {r.wall_seconds:.2f} s wall "
        f"({r.sim_seconds / max(r.wall_seconds, 1e-9):.1f}x), {r.steps} task steps, "
        f"{r.events} events, {st.get('checks', 0)} invariant checks",
        "  faults injected: " + " ".join(f"{k}={v}" for k, v in r.faults_injected.items()),
        f"  fills={st.get('fills_exchange', 0)} lost={st.get('fills_lost', 0)} "
        f"unexpected={st.get('fills_unexpected', 0)} orphans={st.get('orphans', 0)} "
        f"(max age {st.get('max_orphan_age_s', 0):.1f} s) "
        f"wrongful_cancels={st.get('wrongful_cancels', 0)} "
        f"max_unresolved={st.get('max_unresolved_s', 0):.1f} s "
        f"convergence={_fmt_s(st.get('convergence_s'))} restarts={sum(r.restarts.values())}",
    ]
    if r.violations:
        lines.append(f"  VIOLATIONS ({len(r.violations)}):")
        lines += [f"    {v['invariant']} at {v['t_s']:.1f} s: {v['detail']}"
                  for v in r.violations[:40]]
        lines.append(f"  reproduce: {reproduce_command(r.seed, minutes, faults)}")
    else:
        lines.append("  no violation")
    return "\n".join(lines)


def _run_scenarios(which: str, json_path: str | None) -> int:
    from hlmaker.chaos.scenarios import SCENARIOS, run_scenario

    names = list(SCENARIOS) if which.lower() == "all" else [
        f.strip().upper() for f in which.split(",") if f.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise click.BadParameter(f"unknown scenario(s) {unknown}; use F1 … F18 or 'all'",
                                 param_hint="--scenario")
    failed = 0
    rows = []
    for name in names:
        sc = SCENARIOS[name]
        result, problems = run_scenario(name)
        failed += bool(problems)
        click.echo(f"{name:<4} {'PASS' if not problems else 'FAIL'}  {sc.title}  "
                   f"(seed {sc.seed}, {result.wall_seconds:.1f} s wall)")
        click.echo(f"     mark: {sc.mark_text}")
        for p in problems:
            click.echo(f"     ! {p}")
        rows.append({"scenario": name, "seed": sc.seed, "digest": result.digest,
                     "passed": not problems, "problems": problems,
                     "faults_injected": result.faults})
    if json_path:
        Path(json_path).write_text(json.dumps({"scenarios": rows, "failed": failed}, indent=2))
    return 1 if failed else 0


@click.command("chaos")
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), default=None,
              help="Run this many seeds (from --first-seed) in swarm mode.")
@click.option("--seed", type=int, default=None, help="Run one seed and describe it in detail.")
@click.option("--first-seed", type=int, default=1, show_default=True)
@click.option("--sim-minutes", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Simulated minutes per seed (the last third, 20–90 s, is fault-free).")
@click.option("--faults", "faults_text", default="all", show_default=True,
              help="Faults a seed may draw: 'all' or catalogue ids, e.g. F3,F6,F9.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the results as JSON here.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes (default: the CPU count).")
@click.option("--determinism", type=click.IntRange(min=0), default=None,
              help="Re-run this many seeds and compare digests (default: min(seeds, 10)).")
@click.option("--scenario", default=None,
              help="Run the scripted scenarios instead: 'all' or ids, e.g. F4,F16.")
@click.option("--quiet", is_flag=True, help="No per-seed progress lines.")
def chaos_command(n_seeds: int | None, seed: int | None, first_seed: int, sim_minutes: float,
                  faults_text: str, json_path: str | None, workers: int | None,
                  determinism: int | None, scenario: str | None, quiet: bool) -> None:
    """Run a deterministic simulation campaign: the real actors and supervisor against the
    simulated exchange under seeded faults; check every invariant of reliability.md."""
    if scenario is not None:
        sys.exit(_run_scenarios(scenario, json_path))
    faults = parse_faults(faults_text)
    if seed is not None and n_seeds is not None:
        raise click.UsageError("give either --seed S or --seeds N, not both")
    if seed is not None:
        seeds = [seed]
        det = determinism if determinism is not None else 0
    else:
        seeds = list(range(first_seed, first_seed + (n_seeds or 20)))
        det = determinism if determinism is not None else min(len(seeds), 10)

    def progress(r: SeedResult, done: int, total: int) -> None:
        if quiet or seed is not None:
            return
        state = "ok" if r.ok else f"{len(r.violations)} VIOLATIONS"
        click.echo(f"[{done}/{total}] seed {r.seed}: {state} "
                   f"({r.sim_seconds / max(r.wall_seconds, 1e-9):.0f}x)", err=True)

    report = run_campaign(seeds, sim_minutes, faults, workers=workers, determinism=det,
                          progress=progress)
    if seed is not None:
        click.echo(_describe_seed(report.results[0], sim_minutes, faults))
        click.echo("")
    click.echo(report.render())
    if json_path:
        Path(json_path).write_text(json.dumps(report.to_json(), indent=2, default=str))
    sys.exit(1 if report.violations or report.digest_mismatches else 0)
