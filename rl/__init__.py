"""minigrad's reinforcement learning: one readable file per algorithm, on gymnasium, on minigrad's engine."""
