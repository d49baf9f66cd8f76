"""DVC stage `preprocess`: raw recordings -> epochs.npy, trials.tsv, info.json."""

from pipeline.config import load_section
from pipeline.io import atomic_output_dir
from pipeline.preprocess.options import PreprocessConfig
from pipeline.preprocess.study import preprocess_study
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw", required=True, help="BIDS root of the study")
    parser.add_argument("--out", required=True, help="directory of the preprocessed epochs")
    args = parser.parse_args()
    cfg = load_section(PreprocessConfig, args.params, args.study)
    with atomic_output_dir(args.out) as out:
        preprocess_study(cfg, args.raw, out)


if __name__ == "__main__":
    run_stage("preprocess", main)
