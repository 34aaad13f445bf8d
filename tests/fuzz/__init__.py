"""Fuzz harness for hxpm's readers of untrusted bytes (issue 10)."""
