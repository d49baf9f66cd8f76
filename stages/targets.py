"""DVC stage `targets`: stimuli -> latents of a pretrained model (or the simulator's own)."""

from pipeline.config import load_section
from pipeline.io import atomic_output_dir
from pipeline.stage import run_stage, stage_parser
from pipeline.targets.compute import compute_targets
from pipeline.targets.options import TargetsConfig


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw", required=True, help="BIDS root of the study (reads stimuli/)")
    parser.add_argument("--out", required=True, help="directory of the target latents")
    args = parser.parse_args()
    cfg = load_section(TargetsConfig, args.params, args.study)
    with atomic_output_dir(args.out) as out:
        compute_targets(cfg, args.raw, out)


if __name__ == "__main__":
    run_stage("targets", main)
