"""DVC stage `generate`: test-stimulus latents (decoder, baseline, true) -> images, captions, 3D."""

from pipeline.config import load_section
from pipeline.generators.generate import generate_outputs
from pipeline.generators.options import GenerateConfig
from pipeline.io import atomic_output_dir
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--generators", required=True, help="directory of the fitted generators")
    parser.add_argument("--predictions", required=True, help="the decoder's predictions")
    parser.add_argument("--baseline", required=True, help="the baseline's predictions")
    parser.add_argument("--raw", required=True, help="BIDS root of the study (reads stimuli/)")
    parser.add_argument("--targets", required=True, help="directory of the target latents")
    parser.add_argument("--out", required=True, help="directory of the generated outputs")
    args = parser.parse_args()
    cfg = load_section(GenerateConfig, args.params, args.study)
    with atomic_output_dir(args.out) as out:
        generate_outputs(cfg, args.generators,
                         {"decoder": args.predictions, "baseline": args.baseline},
                         args.raw, args.targets, out)


if __name__ == "__main__":
    run_stage("generate", main)
