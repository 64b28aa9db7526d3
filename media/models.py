"""media models (filled in by its issue)."""
