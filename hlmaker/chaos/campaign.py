"""Campaigns: many seeds in parallel processes, aggregated into the reliability report.

:func:`run_campaign` runs ``run_seed`` for each seed (in a ``ProcessPoolExecutor`` when there is
more than one core and more than one seed), re-runs the first ``determinism`` seeds to compare
digests, and returns a :class:`CampaignReport`:

* :meth:`CampaignReport.render` — the report template of ``reliability.md`` (commit, versions,
  speed, faults injected, invariant checks, fills, unknown outcomes, orphans, convergence,
  determinism, failing seeds with the command reproducing each) plus a table per fault and per
  invariant;
* :meth:`CampaignReport.to_json` — ``violations`` (total), ``speed`` (simulated seconds per
  wall second), ``faults_injected`` (``{"F1": n, …}``), ``seeds`` (``{"seed", "digest",
  "core_digest", "violations"}`` each), and the other figures.

Wall time is measured here with ``time.perf_counter`` (the only clock read of the simulation).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import trio

from hlmaker.chaos.plan import FAULT_IDS
from hlmaker.chaos.runner import SeedResult, run_seed

INVARIANTS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "L1", "L2", "MEM", "RUN")


def _job(args: tuple[int, float, tuple[str, ...] | None]) -> SeedResult:
    seed, minutes, faults = args
    return run_seed(seed, minutes, faults)


def reproduce_command(seed: int, sim_minutes: float, faults: Sequence[str] | None) -> str:
    """The command line that re-runs one seed exactly."""
    flt = "all" if faults is None or set(faults) == set(FAULT_IDS) else ",".join(faults)
    return f"hlmaker chaos --seed {seed} --sim-minutes {sim_minutes:g} --faults {flt}"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=os.path.dirname(__file__), check=False)
        sha = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5,
                               cwd=os.path.dirname(__file__), check=False).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class CampaignReport:
    """The results of a campaign and the figures of the report template."""

    sim_minutes: float
    faults: tuple[str, ...] | None
    results: list[SeedResult]
    wall_s: float
    workers: int
    determinism_seeds: int = 0
    digest_mismatches: list[int] = field(default_factory=list)
    commit: str = field(default_factory=_git_commit)

    @property
    def violations(self) -> int:
        return sum(len(r.violations) for r in self.results)

    @property
    def failing(self) -> list[SeedResult]:
        return [r for r in self.results if r.violations]

    @property
    def sim_seconds(self) -> float:
        return sum(r.sim_seconds for r in self.results)

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second, whole campaign (all processes together)."""
        return self.sim_seconds / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def speed_per_process(self) -> float:
        """Simulated seconds per wall second of one process."""
        wall = sum(r.wall_seconds for r in self.results)
        return self.sim_seconds / wall if wall > 0 else 0.0

    def faults_injected(self) -> dict[str, int]:
        total: Counter[str] = Counter({f: 0 for f in FAULT_IDS})
        for r in self.results:
            total.update(r.faults_injected)
        return {f: total[f] for f in FAULT_IDS}

    def by_invariant(self) -> dict[str, tuple[int, int]]:
        """Invariant → (violations, seeds)."""
        out: dict[str, tuple[int, int]] = {}
        for inv in INVARIANTS:
            n = sum(1 for r in self.results for v in r.violations if v["invariant"] == inv)
            seeds = sum(1 for r in self.results if any(v["invariant"] == inv
                                                        for v in r.violations))
            out[inv] = (n, seeds)
        return out

    def by_fault(self) -> dict[str, tuple[int, int, int]]:
        """Fault → (injections, seeds with it, failing seeds with it)."""
        out: dict[str, tuple[int, int, int]] = {}
        for f in FAULT_IDS:
            with_it = [r for r in self.results if r.faults_injected.get(f, 0)]
            out[f] = (sum(r.faults_injected.get(f, 0) for r in with_it), len(with_it),
                      sum(1 for r in with_it if r.violations))
        return out

    def figures(self) -> dict[str, Any]:
        rs = self.results
        st = [r.stats for r in rs]
        conv = [s["convergence_s"] for s in st if s.get("convergence_s") is not None]
        counters = [r.counters for r in rs]
        return {
            "events": sum(r.events for r in rs),
            "task_steps": sum(r.steps for r in rs),
            "invariant_checks": sum(s.get("checks", 0) for s in st),
            "fills_applied": sum(s.get("fills_exchange", 0) - s.get("fills_lost", 0)
                                 for s in st),
            "fills_lost": sum(s.get("fills_lost", 0) for s in st),
            "fills_duplicated": sum(1 for r in rs for v in r.violations
                                    if v["invariant"] == "S2"),
            "fills_unexpected": sum(s.get("fills_unexpected", 0) for s in st),
            "fills_unretrievable": sum(s.get("fills_unretrievable", 0) for s in st),
            "fills_forgotten": sum(s.get("fills_forgotten", 0) for s in st),
            "unknown_total": sum(int(c.get("unknown_outcomes", 0)) for c in counters),
            "unknown_resolved": sum(int(c.get("unknown_resolved", 0)) for c in counters),
            "unknown_lost_in_crash": sum(int(c.get("unknown_lost_in_crash", 0))
                                         for c in counters),
            "max_unresolved_s": max((s.get("max_unresolved_s", 0.0) for s in st), default=0.0),
            "orphans_detected": sum(s.get("orphans", 0) for s in st),
            "orphans_max_age_s": max((s.get("max_orphan_age_s", 0.0) for s in st), default=0.0),
            "wrongful_cancels": sum(s.get("wrongful_cancels", 0) for s in st),
            "restarts": sum(sum(r.restarts.values()) for r in rs),
            "leftovers_adopted": sum(int(c.get("leftovers_adopted_all_processes", 0))
                                     for c in counters),
            "leftovers_cancelled": sum(int(c.get("leftovers_cancelled_all_processes", 0))
                                       for c in counters),
            "convergence_p50_s": _pct(conv, 0.5),
            "convergence_p99_s": _pct(conv, 0.99),
            "convergence_max_s": max(conv, default=0.0),
            "converged_seeds": len(conv),
            # the per-IP REST weight (§8): 429s the simulator answered for it, the most weight
            # spent within 60 s (at the simulator, and as the bot's ledger counted it)
            "ip_429": sum(s.get("exchange", {}).get("ip_429", 0) for s in st),
            "ip_weight_peak": max((s.get("exchange", {}).get("ip_weight_peak", 0) for s in st),
                                  default=0),
            "ip_weight_peak_bot": max((s.get("executor", {}).get("ip_weight_peak", 0)
                                       for s in st), default=0),
            "ip_reads_thinned": sum(s.get("executor", {}).get("ip_reads_thinned", 0)
                                    for s in st),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "violations": self.violations,
            "speed": round(self.speed, 2),
            "speed_per_process": round(self.speed_per_process, 2),
            "faults_injected": self.faults_injected(),
            "seeds": [{"seed": r.seed, "digest": r.digest, "core_digest": r.core_digest,
                       "violations": len(r.violations)} for r in self.results],
            "sim_minutes": self.sim_minutes,
            "faults": list(self.faults) if self.faults is not None else "all",
            "wall_s": round(self.wall_s, 2),
            "workers": self.workers,
            "commit": self.commit,
            "python": platform.python_version(),
            "trio": trio.__version__,
            "figures": self.figures(),
            "by_invariant": {k: {"violations": n, "seeds": s}
                             for k, (n, s) in self.by_invariant().items()},
            "determinism": {"seeds": self.determinism_seeds,
                            "mismatches": self.digest_mismatches},
            "failures": [{"seed": r.seed, "plan": r.plan, "violations": r.violations,
                          "reproduce": reproduce_command(r.seed, self.sim_minutes, self.faults)}
                         for r in self.failing],
        }

    def render(self) -> str:
        f = self.figures()
        inj = self.faults_injected()
        missing = [k for k, v in inj.items() if v == 0]
        lines = [
            f"commit={self.commit} python={platform.python_version()} trio={trio.__version__}",
            f"campaign: seeds={len(self.results)} sim_minutes={self.sim_minutes:g} "
            f"wall_s={self.wall_s:.1f} speed={self.speed:.1f}x (simulated s per wall s; "
            f"{self.speed_per_process:.1f}x per process, {self.workers} workers) "
            f"events={f['events']}",
            "faults injected: " + " ".join(f"{k}={v}" for k, v in inj.items())
            + ("   (every Fi >= 1)" if not missing else f"   (never: {','.join(missing)})"),
            f"invariant checks={f['invariant_checks']}  violations={self.violations}",
            f"fills: applied={f['fills_applied']} lost={f['fills_lost']} "
            f"duplicated={f['fills_duplicated']} unexpected={f['fills_unexpected']} "
            f"(adopted via clearinghouseState instead of applied: {f['fills_unretrievable']}, "
            f"of which forgotten by the exchange (F16): {f['fills_forgotten']})",
            f"unknown outcomes: total={f['unknown_total']} resolved={f['unknown_resolved']} "
            f"held by a book when it crashed={f['unknown_lost_in_crash']} "
            f"max_unresolved_s={f['max_unresolved_s']:.1f}",
            f"orphans: detected={f['orphans_detected']} max_age_s={f['orphans_max_age_s']:.1f}"
            f"  wrongful_cancels={f['wrongful_cancels']}",
            f"leftovers (orders of a dead process or book): cancelled="
            f"{f['leftovers_cancelled']} adopted={f['leftovers_adopted']}",
            f"convergence after last fault: p50={f['convergence_p50_s']:.1f} "
            f"p99={f['convergence_p99_s']:.1f} max={f['convergence_max_s']:.1f} "
            f"({f['converged_seeds']}/{len(self.results)} seeds)",
            f"ip weight (limit 1200/min): 429s={f['ip_429']} peak/min={f['ip_weight_peak']} "
            f"(bot's ledger {f['ip_weight_peak_bot']}) reads thinned={f['ip_reads_thinned']}",
            f"determinism: {self.determinism_seeds} seeds x 2 runs, digest mismatches="
            f"{len(self.digest_mismatches)}"
            + (f" (seeds {self.digest_mismatches[:10]})" if self.digest_mismatches else ""),
        ]
        if self.failing:
            lines.append(f"failing seeds: {len(self.failing)}")
            for r in self.failing[:50]:
                first = r.violations[0]
                lines.append(f"  seed {r.seed}: {len(r.violations)} violations, first "
                             f"{first['invariant']} at {first['t_s']:.1f} s: "
                             f"{first['detail'][:160]}")
                cmd = reproduce_command(r.seed, self.sim_minutes, self.faults)
                lines.append(f"    reproduce: {cmd}")
        else:
            cmd = reproduce_command(0, self.sim_minutes, self.faults).replace(" 0 ", " S ")
            lines.append(f"failing seeds: none   (reproduce: {cmd})")
        lines.append("")
        lines.append("fault   injections   seeds   failing seeds")
        for k, (n, s, bad) in self.by_fault().items():
            lines.append(f"{k:<6}  {n:>10}   {s:>5}   {bad:>13}")
        lines.append("")
        lines.append("invariant   violations   seeds")
        for k, (n, s) in self.by_invariant().items():
            lines.append(f"{k:<9}   {n:>10}   {s:>5}")
        return "\n".join(lines)


def run_campaign(
    seeds: Iterable[int],
    sim_minutes: float,
    faults: Sequence[str] | None = None,
    *,
    workers: int | None = None,
    determinism: int = 0,
    progress: Callable[[SeedResult, int, int], None] | None = None,
) -> CampaignReport:
    """Run every seed (swarm mode over ``faults``; ``None`` = all) for ``sim_minutes``.

    ``workers``: processes (default: the CPU count; 1 runs inline). ``determinism``: re-run the
    first that many seeds and compare digests. ``progress(result, done, total)`` is called as
    results arrive.
    """
    seed_list = list(seeds)
    flt = tuple(faults) if faults is not None else None
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    n_workers = max(1, min(n_workers, len(seed_list) + min(determinism, len(seed_list))))
    jobs = [(s, sim_minutes, flt) for s in seed_list]
    again = [(s, sim_minutes, flt) for s in seed_list[:determinism]]
    results: dict[int, SeedResult] = {}
    reruns: dict[int, SeedResult] = {}
    total = len(jobs) + len(again)
    t0 = time.perf_counter()
    if n_workers == 1:
        for i, job in enumerate([*jobs, *again]):
            r = _job(job)
            (reruns if i >= len(jobs) else results)[r.seed] = r
            if progress is not None:
                progress(r, i + 1, total)
    else:
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            futures = {pool.submit(_job, job): i for i, job in enumerate([*jobs, *again])}
            for done, fut in enumerate(as_completed(futures), start=1):
                r = fut.result()
                (reruns if futures[fut] >= len(jobs) else results)[r.seed] = r
                if progress is not None:
                    progress(r, done, total)
    wall = time.perf_counter() - t0
    mismatches = sorted(s for s, r in reruns.items() if results[s].digest != r.digest)
    return CampaignReport(sim_minutes=sim_minutes, faults=flt,
                          results=[results[s] for s in seed_list], wall_s=wall,
                          workers=n_workers, determinism_seeds=len(reruns),
                          digest_mismatches=mismatches)


def speed_summary(results: Sequence[SeedResult]) -> str:
    """``median speed`` of single seeds (simulated s per wall s of one process)."""
    speeds = [r.sim_seconds / r.wall_seconds for r in results if r.wall_seconds > 0]
    return f"{statistics.median(speeds):.1f}x" if speeds else "n/a"
