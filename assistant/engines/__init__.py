"""The ways an answer is written; the names users choose them by."""

from enum import StrEnum

ENGINES = ("extractive", "local", "ollama", "openai")

Engine = StrEnum("Engine", ENGINES)
Engine.__doc__ = "One of ENGINES: a setting that must name an engine (its members compare equal to the names)."
