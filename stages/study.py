"""DVC stage `study`: write the study's raw recordings as a BIDS dataset."""

from pipeline.config import load_section
from pipeline.io import atomic_output_dir
from pipeline.stage import run_stage, stage_parser
from pipeline.studies import generate_study
from pipeline.studies.options import StudyConfig
from pipeline.studies.oracle_note import note_missing_oracle


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", required=True, help="BIDS root to write")
    args = parser.parse_args()
    cfg = load_section(StudyConfig, args.params, args.study)
    with atomic_output_dir(args.out) as out:
        generate_study(cfg, out)
        note_missing_oracle(out)


if __name__ == "__main__":
    run_stage("study", main)
