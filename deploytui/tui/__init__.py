"""The Textual console. Imported only when `deploytui` runs without a subcommand."""
