"""``python -m myna.cli``: the ``myna`` command (how tests and detached children run it)."""

from myna.cli import main

main()
