"""python -m hearthcam."""

from hearthcam.cli import main

main()
