"""content models (filled in by its issue)."""
