"""DVC stage `train`: fit the brain -> latent encoder named in params (a Lightning run)."""

from pipeline.cli import run_stage, stage_parser
from pipeline.config import load_section
from pipeline.encoders import fit_encoder
from pipeline.io import atomic_output_dir


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--preprocessed", required=True)
    parser.add_argument("--targets", required=True)
    parser.add_argument("--out", required=True, help="directory of the trained encoder")
    args = parser.parse_args()
    cfg = load_section("train", args.params, args.study)
    with atomic_output_dir(args.out) as out:
        fit_encoder(
            cfg.encoder.name, cfg.encoder.kwargs(), cfg, args.preprocessed, args.targets, out
        )


if __name__ == "__main__":
    run_stage("train", main)
