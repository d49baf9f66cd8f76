"""DVC stage `crossval`: cross-validated classification beside baselines fitted in its folds."""

from pathlib import Path

from pipeline.config import load_section
from pipeline.evaluation.crossval import crossval
from pipeline.evaluation.crossval_options import CrossvalConfig
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--preprocessed", required=True, type=Path)
    parser.add_argument("--targets", type=Path, default=None,
                        help="the class latents (needed when crossval.encoders is set)")
    parser.add_argument("--metrics", required=True, type=Path)
    parser.add_argument("--plots", required=True, type=Path)
    args = parser.parse_args()
    cfg = load_section(CrossvalConfig, args.params, args.study)
    crossval(cfg, args.preprocessed, args.targets, args.metrics, args.plots)


if __name__ == "__main__":
    run_stage("crossval", main)
