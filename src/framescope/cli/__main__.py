"""``python -m framescope.cli …`` (what torchrun and accelerate launch)."""

import sys

from framescope.cli import main

sys.exit(main())
