"""The ``hlmaker`` command: ``run`` (the bot), ``sim`` (the exchange simulator), ``chaos``,
``report`` and ``replay`` (the journal)."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="hlmaker")
def main() -> None:
    """hlmaker: market-making bots on Hyperliquid, as trio actors."""


def _register() -> None:
    from hlmaker.chaos.command import chaos_command
    from hlmaker.journal.command import replay_command, report_command
    from hlmaker.run import run_command
    from hlmaker.sim.command import sim_command

    main.add_command(run_command, name="run")
    main.add_command(sim_command, name="sim")
    main.add_command(chaos_command, name="chaos")
    main.add_command(report_command, name="report")
    main.add_command(replay_command, name="replay")


_register()
