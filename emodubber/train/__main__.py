"""``python -m emodubber.train STAGE --profile P [--resume]`` (what ``torchrun … -m emodubber.train`` runs)."""

import sys

from emodubber.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]]))
