"""tokens phase."""
