"""`python -m bot` is the same as the `audiobot` console script."""

from bot.cli import main

raise SystemExit(main())
