"""DVC stage `evaluate_generated`: image, caption and 3D metrics beside chance and the ceiling."""

from pipeline.config import load_section
from pipeline.evaluation.generation.evaluate import ChannelInputs, evaluate_generated
from pipeline.evaluation.options import EvaluateConfig
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--generated", required=True, help="directory of the generated outputs")
    parser.add_argument("--raw", required=True, help="BIDS root of the study (reads stimuli/)")
    parser.add_argument("--preprocessed", required=True,
                        help="preprocessed trials (the channel report reads train trials)")
    parser.add_argument("--generators", required=True, help="directory of the fitted generators")
    parser.add_argument("--targets", required=True, help="directory of the target latents")
    parser.add_argument("--metrics", required=True, help="metrics JSON to write")
    parser.add_argument("--plots", required=True, help="directory of the sheet and tables")
    args = parser.parse_args()
    cfg = load_section(EvaluateConfig, args.params, args.study)
    channels = ChannelInputs(args.preprocessed, args.generators, args.targets)
    evaluate_generated(cfg, args.generated, args.raw, args.metrics, args.plots, channels)


if __name__ == "__main__":
    run_stage("evaluate_generated", main)
