"""social models (filled in by its issue)."""
