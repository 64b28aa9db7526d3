"""messaging models (filled in by its issue)."""
