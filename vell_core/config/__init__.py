"""Configuration: the one settings class and secret-safe logging."""
