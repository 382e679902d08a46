"""pretrain phase."""
