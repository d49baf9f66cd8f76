"""DVC stage `targets`: stimuli -> latents of a pretrained model (or the simulator's own)."""

import argparse

from pipeline.cli import run_stage
from pipeline.config import load_section
from pipeline.io import atomic_output_dir
from pipeline.targets import compute_targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", required=True, help="BIDS root of the study (reads stimuli/)")
    parser.add_argument("--out", required=True, help="directory of the target latents")
    args = parser.parse_args()
    cfg = load_section("targets", args.params)
    with atomic_output_dir(args.out) as out:
        compute_targets(cfg, args.raw, out)


if __name__ == "__main__":
    run_stage("targets", main)
