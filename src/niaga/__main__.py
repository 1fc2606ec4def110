"""`python -m niaga` runs the CLI."""

from niaga.cli import main

main()
