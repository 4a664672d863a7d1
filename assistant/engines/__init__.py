"""The ways an answer is written; the names users choose them by."""

ENGINES = ("extractive", "local", "ollama", "openai")
