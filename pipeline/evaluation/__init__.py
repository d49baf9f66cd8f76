"""Zero-shot evaluation: metrics, splits by stimulus, bootstrap CIs, oracle, reports.

The evaluate stage runs :func:`pipeline.evaluation.evaluate.evaluate`; the retrieval metrics
it computes are registered in :data:`pipeline.evaluation.metrics.METRICS`.
"""
