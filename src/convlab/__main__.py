"""``python -m convlab``: the ``convlab`` command."""

import sys

from convlab.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised by a subprocess test
    sys.exit(main())
