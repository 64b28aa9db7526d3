"""recommendations models (filled in by its issue)."""
