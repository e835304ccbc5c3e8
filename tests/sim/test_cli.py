"""``hlmaker sim``: options, errors, and a real run stopped by SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from hlmaker.cli import main


def test_help_and_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["sim", "--help"])
    assert r.exit_code == 0
    for opt in ("--host", "--port", "--seed", "--faults", "--no-auto-fund", "--balance"):
        assert opt in r.output
    r = runner.invoke(main, ["sim", "--faults", "bogus"])
    assert r.exit_code != 0 and "bogus" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("time,px,sz,side\n1,x,1,B\n")
    r = runner.invoke(main, ["sim", "--replay", str(bad)])
    assert r.exit_code != 0 and "line 2" in r.output


def test_serves_until_sigint() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from hlmaker.cli import main; main()",
            "sim",
            "--port",
            "0",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        req = urllib.request.Request(
            url + "/info", data=b'{"type":"allMids"}', headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert set(json.loads(resp.read())) == {"BTC", "ETH", "SOL"}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
