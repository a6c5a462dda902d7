"""`python -m vaxflow`."""

import sys

from vaxflow.cli import main

sys.exit(main())
