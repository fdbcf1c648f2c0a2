"""Console widgets: one panel per module, each drawing from an ``engine.facade.EngineSnapshot``."""
