"""The single source of ophost's package version."""

__version__ = "0.1.0"
