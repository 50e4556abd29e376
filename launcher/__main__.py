"""``python -m launcher`` runs the ``vnsandbox`` command."""

import sys

from launcher.cli import main

sys.exit(main())
