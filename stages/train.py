"""DVC stage `train`: fit the brain -> latent encoder named in params (a Lightning run)."""

from pipeline.config import load_section
from pipeline.distributed import primary_output_dir
from pipeline.encoders.options import TrainConfig
from pipeline.encoders.train import fit_encoder
from pipeline.stage import run_stage, stage_parser


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--preprocessed", required=True)
    parser.add_argument("--targets", required=True)
    parser.add_argument("--out", required=True, help="directory of the trained encoder")
    parser.add_argument("--pretrained", default=None,
                        help="the pretrain stage's output (read when train.init is pretrained)")
    parser.add_argument("--checkpoints", default=None,
                        help="keeps checkpoints between runs: a killed run resumes from here")
    parser.add_argument("--curves", default=None,
                        help="CSV of the training curves per epoch (a DVC plots file)")
    parser.add_argument("--curves-plot", default=None, help="PNG of the training curves")
    args = parser.parse_args()
    cfg = load_section(TrainConfig, args.params, args.study)
    with primary_output_dir(args.out) as out:  # DDP: only global rank 0 writes the outputs
        fit_encoder(
            cfg.encoder.name, cfg.encoder.kwargs(), cfg, args.preprocessed, args.targets, out,
            pretrained_dir=args.pretrained, checkpoint_dir=args.checkpoints,
            curves=args.curves, curves_plot=args.curves_plot,
        )


if __name__ == "__main__":
    run_stage("train", main)
