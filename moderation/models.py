"""moderation models (filled in by its issue)."""
