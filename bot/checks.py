"""`audiobot check-bitrix` and `audiobot fields` (placeholder until the checks land)."""

from __future__ import annotations

import argparse


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `check-bitrix` and `fields`."""
    for name in ("check-bitrix", "fields"):
        parser = subparsers.add_parser(name, help="(not implemented yet)")
        parser.add_argument("webhook_url", nargs="?", metavar="WEBHOOK_URL")
        parser.set_defaults(handler=lambda args: 2)
