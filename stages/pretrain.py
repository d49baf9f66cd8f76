"""DVC stage `pretrain`: self-supervised pretraining of the patch transformer (unlabeled)."""

from pipeline.config import load_section
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.pretrained import PRETRAINABLE
from pipeline.io import atomic_output_dir
from pipeline.pretrain.options import PretrainConfig
from pipeline.pretrain.run import pretrain_study
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--preprocessed", required=True)
    parser.add_argument("--out", required=True, help="directory of the pretrained backbone")
    args = parser.parse_args()
    cfg = load_section(PretrainConfig, args.params, args.study)
    train = load_section(TrainConfig, args.params, args.study)
    with atomic_output_dir(args.out) as out:
        pretrain_study(cfg, train.encoder.kwargs(PRETRAINABLE), args.preprocessed, out)


if __name__ == "__main__":
    run_stage("pretrain", main)
