"""``python -m topodsl`` runs the command line."""

from .cli import main

main(prog_name="topodsl")
