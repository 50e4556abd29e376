import sys

from vnsandbox.cli import main

sys.exit(main())
