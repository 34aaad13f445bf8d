"""The typer command line. Thin: parse, call one service, render text or JSON."""
