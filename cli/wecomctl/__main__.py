"""``python -m wecomctl``: the same entry point as the console script (handy in a venv without scripts)."""

import sys

from wecomctl.main import main

sys.exit(main())
