"""DVC stage `baseline`: fit the linear baseline encoder and predict val/test latents."""

from pipeline.config import load_section
from pipeline.encoders.baseline import fit_baseline
from pipeline.encoders.options import BaselineConfig
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--preprocessed", required=True)
    parser.add_argument("--targets", required=True)
    parser.add_argument("--model", required=True, help="directory of the fitted baseline")
    parser.add_argument("--predictions", required=True, help="directory of its predictions")
    args = parser.parse_args()
    cfg = load_section(BaselineConfig, args.params, args.study)
    fit_baseline(cfg, args.preprocessed, args.targets, args.model, args.predictions)


if __name__ == "__main__":
    run_stage("baseline", main)
