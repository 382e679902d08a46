"""simplify phase."""
