"""Self-supervised pretraining of the patch transformer on unlabeled epochs (``pretrain``).

``PRETRAINERS`` maps ``pretrain.method`` to a method: ``none``, ``codebook`` (a
vector-quantised tokenizer, then masked code-index prediction, after LaBraM and Du-IN) and
``mae`` (masked patch reconstruction). The pretrain stage runs
:func:`pipeline.pretrain.run.pretrain_study`.
"""

from pipeline.registry import Registry

PRETRAINERS = Registry("pretraining method", modules=("pipeline.pretrain.methods",))

__all__ = ["PRETRAINERS"]
