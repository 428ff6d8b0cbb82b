"""Neural-network layers (placeholder until issue 3 lands)."""
