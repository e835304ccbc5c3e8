"""load_config on TOML files: defaults, unknown names, types, cross-field rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from hlmaker.config import MakerConfig, load_config
from hlmaker.errors import ConfigError
from hlmaker.orders.book_config import BookConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hlmaker.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "# nothing\n"))
    assert cfg == MakerConfig()
    assert cfg.endpoint.network == "sim" and cfg.endpoint.url == ""
    assert not cfg.endpoint.is_mainnet
    assert cfg.strategy == {}
    assert cfg.book == BookConfig()
    assert cfg.executor.request_timeout_s == 5.0 and cfg.executor.use_ws_post
    assert cfg.executor.ip_weight_per_minute == 1200 and cfg.executor.max_in_flight == 16
    assert (cfg.reconcile.interval_s, cfg.reconcile.min_gap_s) == (5.0, 0.5)
    assert (cfg.supervisor.max_restarts, cfg.supervisor.window_s,
            cfg.supervisor.shutdown_timeout_s) == (5, 60.0, 15.0)
    assert cfg.dead_man.enabled and cfg.dead_man.lease_s == 30.0
    assert (cfg.sim.seed, cfg.sim.faults) == (1, "default")
    assert cfg.metrics.port == 0


def test_values_are_read_and_converted(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, """
[endpoint]
network = "mainnet"
[strategy]
coins = ["BTC"]
levels = 2
[book]
coins = ["BTC", "ETH"]
orphan_grace_ms = 2000
[executor]
request_timeout_s = 2          # an integer is fine for a float
use_ws_post = false
[reconcile]
interval_s = 1.5
[dead_man]
enabled = false
lease_s = 5                    # not checked while disabled
[metrics]
port = 9100
"""))
    assert cfg.endpoint.url == "https://api.hyperliquid.xyz" and cfg.endpoint.is_mainnet
    assert cfg.strategy == {"coins": ["BTC"], "levels": 2}
    assert cfg.book.coins == ("BTC", "ETH") and cfg.book.orphan_grace_ms == 2000
    assert cfg.executor.request_timeout_s == 2.0
    assert isinstance(cfg.executor.request_timeout_s, float)
    assert cfg.executor.use_ws_post is False
    assert cfg.reconcile.interval_s == 1.5 and cfg.metrics.port == 9100
    assert not cfg.dead_man.enabled


@pytest.mark.parametrize(("text", "field"), [
    ("[executr]\nrequest_timeout_s = 1\n", "executr"),
    ("[executor]\nrequest_timeout = 1\n", "executor.request_timeout"),
    ("[book]\norphan_grace = 1\n", "book.orphan_grace"),
    ("[dead_man]\nlease = 30\n", "dead_man.lease"),
    ("[endpoint]\nurl = 'http://x'\n", "endpoint.url"),
])
def test_an_unknown_section_or_key_is_named(tmp_path: Path, text: str, field: str) -> None:
    err = error_of(tmp_path, text)
    assert err.field == field
    assert str(err).startswith(f"{field}: unknown")


def test_the_unknown_key_message_lists_the_known_ones(tmp_path: Path) -> None:
    err = error_of(tmp_path, "[reconcile]\nintervall_s = 1\n")
    assert "interval_s" in err.message and "min_gap_s" in err.message


@pytest.mark.parametrize(("text", "field", "fix"), [
    ("[executor]\nuse_ws_post = 'yes'\n", "executor.use_ws_post", "true or false"),
    ("[executor]\nrequest_timeout_s = '5'\n", "executor.request_timeout_s", "number"),
    ("[executor]\nrequest_timeout_s = true\n", "executor.request_timeout_s", "number"),
    ("[executor]\nip_weight_per_minute = 1200.0\n", "executor.ip_weight_per_minute", "integer"),
    ("[supervisor]\nmax_restarts = 2.5\n", "supervisor.max_restarts", "integer"),
    ("[sim]\nseed = true\n", "sim.seed", "integer"),
    ("[endpoint]\nnetwork = 1\n", "endpoint.network", "string"),
    ("executor = 5\n", "executor", "table"),
    ("strategy = 'ladder'\n", "strategy", "table"),
])
def test_wrong_types_are_named(tmp_path: Path, text: str, field: str, fix: str) -> None:
    err = error_of(tmp_path, text)
    assert err.field == field and fix in err.message


@pytest.mark.parametrize(("text", "field"), [
    ("[endpoint]\nnetwork = 'moon'\n", "endpoint.network"),
    ("[endpoint]\nbase_url = 'ftp://x'\n", "endpoint.base_url"),
    ("[endpoint]\nbase_url = 'http://x/'\n", "endpoint.base_url"),
    ("[endpoint]\naccount_address = '0x12'\n", "endpoint.account_address"),
    ("[executor]\nrequest_timeout_s = 0\n", "executor.request_timeout_s"),
    ("[executor]\nmax_in_flight = 0\n", "executor.max_in_flight"),
    ("[executor]\nip_weight_per_minute = 5\n", "executor.ip_weight_per_minute"),
    ("[reconcile]\ninterval_s = 0\n", "reconcile.interval_s"),
    ("[supervisor]\nshutdown_timeout_s = 0\n", "supervisor.shutdown_timeout_s"),
    ("[metrics]\nport = 70000\n", "metrics.port"),
    ("[endpoint]\nvault_address = '0x" + "zz" * 20 + "'\n", "endpoint.vault_address"),
    ("[sim]\nfaults = 'bogus'\n", "sim.faults"),
    ("[sim]\nbalance = 'lots'\n", "sim.balance"),
    ("[sim]\nbalance = '-5'\n", "sim.balance"),
    ("[book]\nearly_events_capacity = 0\n", "book.early_events_capacity"),
    ("[book]\nmax_open_orders_per_coin = 0\n", "book.max_open_orders_per_coin"),
])
def test_invalid_values_are_named(tmp_path: Path, text: str, field: str) -> None:
    assert error_of(tmp_path, text).field == field


@pytest.mark.parametrize(("text", "ok"), [
    ("[executor]\nrequest_timeout_s = 10\n", False),  # == the default 10 s action TTL
    ("[executor]\nrequest_timeout_s = 12\n", False),
    ("[executor]\nrequest_timeout_s = 9.5\n", True),
    ("[book]\naction_ttl_ms = 4000\n", False),  # shorter than the default 5 s timeout
    ("[book]\naction_ttl_ms = 4000\n[executor]\nrequest_timeout_s = 3\n", True),
])
def test_request_timeout_must_be_shorter_than_the_action_ttl(
        tmp_path: Path, text: str, ok: bool) -> None:
    if ok:
        load_config(write(tmp_path, text))
        return
    err = error_of(tmp_path, text)
    assert err.field == "executor.request_timeout_s" and "action_ttl_ms" in err.message


@pytest.mark.parametrize(("lease", "ok"), [(5, False), (14.9, False), (15, True), (30, True)])
def test_dead_man_lease_too_small(tmp_path: Path, lease: float, ok: bool) -> None:
    text = f"[dead_man]\nlease_s = {lease}\n"
    if ok:
        assert load_config(write(tmp_path, text)).dead_man.lease_s == lease
        return
    err = error_of(tmp_path, text)
    assert err.field == "dead_man.lease_s" and "15" in err.message


def test_a_missing_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.toml")
    assert info.value.field == "config" and "not found" in info.value.message
    err = error_of(tmp_path, "[executor\nrequest_timeout_s = 1\n")
    assert err.field == "config" and "not valid TOML" in err.message


@pytest.mark.parametrize(("text", "field"), [
    ("[reconcile]\nmin_gap_s = -1\n", "reconcile.min_gap_s"),
    ("[supervisor]\nwindow_s = 0\n", "supervisor.window_s"),
])
def test_the_bad_key_itself_is_named(tmp_path: Path, text: str, field: str) -> None:
    assert error_of(tmp_path, text).field == field


@pytest.mark.parametrize(("text", "field"), [
    ("[executor]\nrequest_timeout_s = nan\n", "executor.request_timeout_s"),
    ("[reconcile]\ninterval_s = nan\n", "reconcile.interval_s"),
    ("[dead_man]\nlease_s = nan\n", "dead_man.lease_s"),
    ("[supervisor]\nshutdown_timeout_s = nan\n", "supervisor.shutdown_timeout_s"),
])
def test_nan_is_rejected(tmp_path: Path, text: str, field: str) -> None:
    assert error_of(tmp_path, text).field == field
