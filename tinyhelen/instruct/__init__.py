"""Instruction tuning: Leaner-Instruct data (`instruct.data`) and the 2x2 tuning runs (`instruct.tune`)."""
