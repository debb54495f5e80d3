"""`python -m deploytui` is the same as the `deploytui` console script."""

from deploytui.cli import run

run()
