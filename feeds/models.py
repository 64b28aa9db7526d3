"""feeds models (filled in by its issue)."""
