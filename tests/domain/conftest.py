"""Shared values of the domain tests."""

from __future__ import annotations

from datetime import date

#: A fixed "today" for the demo company (mid-month, a working day).
TODAY = date(2026, 11, 5)
