"""The paper's iterative curriculum (spec §7, rebuilt): document difficulty, the growth schedule inside the one
training loop, and the tokens-to-target measurement against a random-order control."""
