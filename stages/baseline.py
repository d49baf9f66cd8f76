"""DVC stage `baseline`: fit the linear baseline encoder and predict val/test latents."""

import argparse

from pipeline.cli import run_stage
from pipeline.config import load_section
from pipeline.encoders import fit_baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--preprocessed", required=True)
    parser.add_argument("--targets", required=True)
    parser.add_argument("--model", required=True, help="directory of the fitted baseline")
    parser.add_argument("--predictions", required=True, help="directory of its predictions")
    args = parser.parse_args()
    cfg = load_section("baseline", args.params)
    fit_baseline(cfg, args.preprocessed, args.targets, args.model, args.predictions)


if __name__ == "__main__":
    run_stage("baseline", main)
