"""Errors a writer of the log is expected to handle."""

from __future__ import annotations


class ConcurrencyConflict(Exception):
    """Another writer appended to the subject since this writer last read it.

    Raised instead of appending, so the history never forks: the writer re-reads the entity,
    decides again on the newer state, and retries or gives up.
    """

    def __init__(self, subject: str, expected_last_seq: int, detail: str) -> None:
        super().__init__(
            f"append to {subject} expected last sequence {expected_last_seq}: {detail}"
        )
        self.subject = subject
        self.expected_last_seq = expected_last_seq
        self.detail = detail


class LogUnavailable(Exception):
    """The log could not be reached in time; nothing was acknowledged."""
