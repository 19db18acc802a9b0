"""Tests of the Russian text primitives in `bot.nlu`."""
