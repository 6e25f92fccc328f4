"""The tracking record: the last log sequence a projection applied, and how many events.

Written only inside the transaction that applied those events (``Projector.apply``).
"""

from __future__ import annotations

from sqlite_utils import Database


def read(db: Database, name: str) -> tuple[int, int]:
    """(last applied log sequence, events applied) of projection ``name``; (0, 0) if none."""
    row = db.execute(
        "SELECT seq, events FROM projection_position WHERE name = ?", [name]
    ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def write(db: Database, name: str, seq: int, events: int) -> None:
    db.execute(
        "INSERT INTO projection_position (name, seq, events) VALUES (?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, events = excluded.events",
        [name, seq, events],
    )
