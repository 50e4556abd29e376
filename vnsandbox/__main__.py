"""``python -m vnsandbox`` runs the ``vnsandbox`` command.

An entry script, not a module of the foundation: nothing imports it, so the one upward
import below does not make the foundation depend on what is built on it.
"""

import sys

from launcher.cli import main

sys.exit(main())
