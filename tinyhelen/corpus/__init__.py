"""corpus phase."""
