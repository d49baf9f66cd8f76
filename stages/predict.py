"""DVC stage `predict`: held-out trials -> predicted latents, with the trained encoder."""

import argparse

from pipeline.encoders.predict import predict_latents
from pipeline.io import atomic_output_dir
from pipeline.stage import run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="directory of the trained encoder")
    parser.add_argument("--preprocessed", required=True)
    parser.add_argument("--out", required=True, help="directory of the predictions")
    args = parser.parse_args()
    with atomic_output_dir(args.out) as out:
        predict_latents(args.model, args.preprocessed, out)


if __name__ == "__main__":
    run_stage("predict", main)
