"""wallet models (filled in by its issue)."""
