"""DVC stage `generators`: fit the image, text and shape generators on the training stimuli."""

from pipeline.config import load_section
from pipeline.generators.fit import fit_generators
from pipeline.generators.options import GeneratorsConfig
from pipeline.io import atomic_output_dir
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw", required=True, help="BIDS root of the study (reads stimuli/)")
    parser.add_argument("--targets", required=True, help="directory of the target latents")
    parser.add_argument("--out", required=True, help="directory of the fitted generators")
    parser.add_argument("--checkpoints", default=None,
                        help="keeps checkpoints between runs: a killed fit resumes from here")
    args = parser.parse_args()
    cfg = load_section(GeneratorsConfig, args.params, args.study)
    with atomic_output_dir(args.out) as out:
        fit_generators(cfg, args.raw, args.targets, out, checkpoint_dir=args.checkpoints)


if __name__ == "__main__":
    run_stage("generators", main)
