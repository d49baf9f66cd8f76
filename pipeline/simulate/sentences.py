"""Sentences of the simulated auditory study, drawn from a small English grammar.

Each sentence is "<subject phrase> <verb> <object phrase> <place>", for example "the old
farmer painted a small red boat near the river". Words repeat across sentences (about two
hundred words in all), so a word heard in a test segment was also heard in training
segments, as in a story-listening study; no two sentences of a study are the same.
"""

from __future__ import annotations

import numpy as np

DETERMINERS = ("the", "a", "one", "every", "that")
ADJECTIVES = (
    "old", "young", "small", "large", "quiet", "noisy", "bright", "dark", "happy", "tired",
    "red", "green", "blue", "yellow", "silver", "wooden", "heavy", "gentle", "clever", "strange",
)
AGENTS = (
    "farmer", "teacher", "doctor", "child", "sailor", "painter", "baker", "driver", "singer",
    "pilot", "student", "neighbour", "dancer", "hunter", "writer", "soldier", "gardener",
    "fisherman", "musician", "traveller",
)
VERBS = (
    "carried", "painted", "found", "watched", "pushed", "cleaned", "opened", "dropped",
    "followed", "lifted", "repaired", "counted", "borrowed", "described", "dreamed of",
    "wrapped", "chased", "sold", "built", "noticed",
)
OBJECTS = (
    "boat", "basket", "letter", "window", "bicycle", "lantern", "piano", "garden", "bridge",
    "kitten", "ladder", "blanket", "bottle", "camera", "violin", "wagon", "hammer", "mirror",
    "candle", "map", "horse", "kettle", "feather", "drum",
)
PREPOSITIONS = ("near", "behind", "beside", "under", "across", "inside", "above", "along")
PLACES = (
    "the river", "the market", "the station", "the old church", "the school", "the forest",
    "the harbour", "the hill", "the library", "the kitchen", "the village", "the castle",
    "the lake", "the bakery", "the museum", "the garden wall",
)
TIMES = ("", "", "", "at dawn", "last night", "in the morning", "before dinner", "every day")


def _phrase(rng: np.random.Generator, nouns: tuple[str, ...]) -> str:
    """A noun phrase: determiner, zero to two adjectives, noun."""
    words = [str(rng.choice(DETERMINERS))]
    n_adjectives = int(rng.choice([0, 1, 1, 2]))
    words += [str(word) for word in rng.choice(ADJECTIVES, n_adjectives, replace=False)]
    words.append(str(rng.choice(nouns)))
    if words[0] == "a" and words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words)


def sentence(rng: np.random.Generator) -> str:
    """Draw one sentence (lower case, no punctuation)."""
    parts = [
        _phrase(rng, AGENTS),
        str(rng.choice(VERBS)),
        _phrase(rng, OBJECTS),
        str(rng.choice(PREPOSITIONS)),
        str(rng.choice(PLACES)),
        str(rng.choice(TIMES)),
    ]
    return " ".join(part for part in parts if part)


def vocabulary() -> list[str]:
    """Every word the grammar can produce, sorted."""
    groups = (DETERMINERS, ("an",), ADJECTIVES, AGENTS, VERBS, OBJECTS, PREPOSITIONS, PLACES,
              TIMES)
    return sorted({word for group in groups for phrase in group for word in phrase.split()})


class SentenceSource:
    """Draws sentences, never the same one twice.

    Parameters
    ----------
    rng : numpy.random.Generator
        The stream the sentences are drawn from.
    max_tries : int
        Draws before giving up on finding a sentence not drawn yet.
    """

    def __init__(self, rng: np.random.Generator, max_tries: int = 1000) -> None:
        self._rng = rng
        self._seen: set[str] = set()
        self._max_tries = max_tries

    def draw(self) -> str:
        """Return a sentence not returned before.

        Raises
        ------
        RuntimeError
            If ``max_tries`` draws in a row were all repeats (the grammar is exhausted).
        """
        for _ in range(self._max_tries):
            text = sentence(self._rng)
            if text not in self._seen:
                self._seen.add(text)
                return text
        raise RuntimeError(
            f"no new sentence in {self._max_tries} draws after {len(self._seen)} sentences; "
            "ask for fewer speech segments"
        )
