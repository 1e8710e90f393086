"""``python -m myna.cli``: the ``myna`` command (how tests and detached children run it)."""

from myna.cli import main

if __name__ == "__main__":  # not on import (pkgutil.walk_packages imports every module)
    main()
