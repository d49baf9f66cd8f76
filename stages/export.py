"""DVC stage `export`: one study's trained decoder -> a self-contained bundle for serving."""

from pathlib import Path

from pipeline.config import load_section
from pipeline.evaluation.options import EvaluateConfig
from pipeline.generators.options import GenerateConfig
from pipeline.io import atomic_output_dir
from pipeline.preprocess.options import PreprocessConfig
from pipeline.serving.export import export_bundle
from pipeline.serving.options import ExportConfig
from pipeline.stage import run_stage, stage_parser

INPUTS = ("raw", "preprocessed", "targets", "encoder", "baseline", "generators", "evaluate",
          "generation")


def main() -> None:
    parser = stage_parser(__doc__)
    for name in INPUTS:
        parser.add_argument(f"--{name}", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path, help="the bundle folder")
    args = parser.parse_args()
    cfg = load_section(ExportConfig, args.params, args.study)
    preprocess = load_section(PreprocessConfig, args.params, args.study)
    generate = load_section(GenerateConfig, args.params, args.study)
    evaluate = load_section(EvaluateConfig, args.params, args.study)
    with atomic_output_dir(args.out) as out:
        export_bundle(cfg, args.study, {name: getattr(args, name) for name in INPUTS},
                      preprocess, generate, evaluate, out)


if __name__ == "__main__":
    run_stage("export", main)
