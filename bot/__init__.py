"""AudioBot application: configuration, CLI, speech, language understanding and answers."""

__version__ = "0.1.0"
