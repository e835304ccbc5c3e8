"""The report page in a real headless browser (Chromium from the OS packages): it loads with no
script errors and every plot renders. Skipped where Chromium is not installed (CI installs only
the project's Python extras)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hlmaker.chaos.harness import RunResult
from hlmaker.journal import analysis, report

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser",
                                                       "google-chrome")) if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--virtual-time-budget=10000"]


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine "
                    "(Debian: apt-get install chromium) — the page is not browser-tested here")
def test_report_page_renders_every_plot(journaled_run: tuple[Path, RunResult],
                                        tmp_path: Path) -> None:
    path, _ = journaled_run
    session = analysis.load_session(path)
    page = tmp_path / "report.html"
    report.write_html(session, analysis.summary(session), page)
    assert CHROMIUM is not None
    dom = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    assert 'data-errors=""' in body.group(0), body.group(0)
    assert f'data-rendered="{len(report.PLOTS)}"' in body.group(0), body.group(0)
    for name in report.PLOTS:
        assert f'id="{name}"' in dom
    shot = Path(os.environ.get("HLMAKER_REPORT_SCREENSHOT", tmp_path / "report.png"))
    subprocess.run([CHROMIUM, *FLAGS, "--window-size=1400,4200", f"--screenshot={shot}",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
