"""Plugins every test folder may use: ``pytester`` runs pytest on generated test files."""

pytest_plugins = ["pytester"]
