"""Preprocessing: raw BIDS recordings -> the preprocessed stage contract (steps are data).

:func:`pipeline.preprocess.study.preprocess_study` runs the pipeline of a study's datatype;
the steps it applies are registered in :data:`pipeline.preprocess.step.STEPS`.
"""
