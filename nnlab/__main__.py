"""``python -m nnlab ...``: see ``nnlab.cli``."""

import sys

from nnlab.cli import main

sys.exit(main())
