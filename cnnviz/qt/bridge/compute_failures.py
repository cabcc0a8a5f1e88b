"""Exceptions from the compute thread's jobs in one plain line for the status bar."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def out_of_memory(exc: BaseException) -> str | None:
    """A failed allocation in plain words (torch's own is an enforce trace), else None."""
    from cnnviz.compute.memory_check import failure_message, is_allocation_failure

    return failure_message(exc) if is_allocation_failure(exc) else None


def unexpected(exc: BaseException) -> str:
    """A bug's message: what it was, and that the log has the details."""
    if (message := out_of_memory(exc)) is not None:
        return message
    return f"unexpected error ({type(exc).__name__}: {first_line(exc)}); details are in the log"
