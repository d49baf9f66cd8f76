"""Self-supervised pretraining of the patch transformer on unlabeled epochs (``pretrain``).

``PRETRAINERS`` maps ``pretrain.method`` to a method: ``none``, ``codebook`` (a
vector-quantised tokenizer, then masked code-index prediction, after LaBraM and Du-IN) and
``mae`` (masked patch reconstruction).
"""

from pipeline.registry import Registry

PRETRAINERS = Registry("pretraining method")

from pipeline.pretrain import methods  # noqa: E402, F401  (methods register themselves)
from pipeline.pretrain.run import pretrain_study  # noqa: E402

__all__ = ["PRETRAINERS", "pretrain_study"]
