"""deploytui: deploy applications over SSH from a terminal console or headless from CI."""

__version__ = "0.1.0"
