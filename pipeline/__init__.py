"""brainrecon: decode what a person saw or heard from brain recordings, reproducibly."""

from pipeline.numerics import pin_numerics

# Before numpy or torch loads (stage scripts import pipeline first): the same bytes anywhere.
pin_numerics()
