"""CPU threads for torch's operations (its intra-op thread pool)."""

from __future__ import annotations

import os

import torch


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_serving_threads(requested: int | None) -> int:
    """Give torch ``requested`` threads, by default one fewer than the usable CPUs (at least
    one); return the count set.

    A server is more than its forward passes: its event loop parses requests, routes them and
    streams every token to every client. When torch's threads take every CPU, the loop
    preempts one of them, and at each operation the others wait for it (OpenMP threads meet
    at every op), which costs most on small models where an op is microseconds of work. One
    CPU left to the loop is what vLLM's CPU backend advises too. Process-wide: meant for a
    process that serves.
    """
    threads = requested or max(1, usable_cpus() - 1)
    torch.set_num_threads(threads)
    return threads
