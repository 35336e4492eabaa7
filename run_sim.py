#!/usr/bin/env python3
"""Command-line entry point. See ``python run_sim.py --help``."""

import sys

from sim.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
