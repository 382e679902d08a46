"""core phase."""
