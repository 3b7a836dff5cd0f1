"""YiLian Chain consortium node."""

__version__ = "0.1.0"
