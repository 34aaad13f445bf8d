"""hxpm: a Git-based, decentralized package manager for LLM adapter experts."""

__version__ = "0.1.0"
