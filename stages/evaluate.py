"""DVC stage `evaluate`: zero-shot retrieval beside chance, the baseline and the oracle."""

from pathlib import Path

from pipeline.config import load_section
from pipeline.evaluation.evaluate import evaluate
from pipeline.evaluation.options import EvaluateConfig
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--predictions", required=True, type=Path)
    parser.add_argument("--baseline", required=True, type=Path)
    parser.add_argument("--targets", required=True, type=Path)
    parser.add_argument("--oracle", type=Path, default=None, help="the study's oracle data, if any")
    parser.add_argument("--metrics", required=True, type=Path)
    parser.add_argument("--topk", required=True, type=Path)
    parser.add_argument("--plots", required=True, type=Path)
    args = parser.parse_args()
    cfg = load_section(EvaluateConfig, args.params, args.study)
    evaluate(
        cfg, args.predictions, args.baseline, args.targets, args.oracle,
        args.metrics, args.topk, args.plots,
    )


if __name__ == "__main__":
    run_stage("evaluate", main)
