"""Tabular reinforcement learning: finite MDPs as arrays, dynamic programming, Monte Carlo and TD methods."""
