"""The local store: paths, atomic file operations, the lock and the SQLite state."""
