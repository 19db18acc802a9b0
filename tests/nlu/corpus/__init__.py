"""The Russian request corpus of the language engine (dev and frozen held-out splits)."""
