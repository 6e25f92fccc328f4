"""SQLite read models of the log (reporting); built by the projections issue."""
