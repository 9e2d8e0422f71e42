"""Sweeps: a grid or seeded sample of config points over a base preset, checked and ranked (pure)."""
