"""myna: the Individual Number Card platform."""

__version__ = "0.1.0"
