"""Market sources that drive the paper exchange: live (Kraken public feed), replay, synthetic."""
