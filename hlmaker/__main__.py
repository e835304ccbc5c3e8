"""``python -m hlmaker`` is the ``hlmaker`` command."""

from hlmaker.cli import main

main()
