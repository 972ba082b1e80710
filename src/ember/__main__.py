"""``python -m ember``: the same command line as ``ember`` (see ``ember.cli``)."""
import sys

from ember.cli import main

sys.exit(main())
