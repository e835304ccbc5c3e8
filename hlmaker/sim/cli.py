"""``hlmaker sim`` — placeholder until the simulator lands."""

import click


@click.command()
def sim_command() -> None:
    """Serve the built-in exchange simulator (not yet implemented)."""
    raise click.ClickException("the simulator is not built yet")
