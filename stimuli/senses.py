"""Senses with hidden relationships: two senses driven by one cause, and one sense that is irrelevant to it.

Each stimulus has a hidden cause ``c`` (one of ``n_causes`` classes, uniform). The sense ``sight`` sees a
digit image of class ``c`` under Gaussian pixel noise; ``sound`` hears the cause's code (one fixed random
pattern per class, drawn from the world's seed) under noise; ``touch`` feels a digit image of an independent
class, so it carries no information about ``c``. A model given only the three senses, and no wiring between
them, can find that sight and sound predict each other and touch predicts neither: the right answer of a
structure search is known (sight <-> sound, nothing to or from touch).

Plain NumPy, independent of the simulator; all randomness comes from the ``numpy.random.Generator`` passed
in (same seed, same arrays).

>>> import numpy as np
>>> from cortex.stimuli.digits import load_digit_split
>>> split = load_digit_split(seed=0)
>>> world = SenseWorld(split.X_train, split.y_train, seed=0)
>>> s = world.sample(4, np.random.default_rng(0))
>>> sorted(s.senses), s.senses["sound"].shape, s.cause.shape
(['sight', 'sound', 'touch'], (4, 16), (4,))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["SenseWorld", "SenseSample", "TRUE_EDGES"]

#: The relationships a structure search should find, as (source sense, target sense) pairs.
TRUE_EDGES = frozenset({("sight", "sound"), ("sound", "sight")})


@dataclass(frozen=True)
class SenseSample:
    """A batch of stimuli: each sense's array (n, size), the hidden cause (n,) and each sense's own class (n,)."""

    senses: dict[str, np.ndarray]
    cause: np.ndarray
    classes: dict[str, np.ndarray]


class SenseWorld:
    """Draws stimuli of the three senses from labelled digit images.

    Parameters
    ----------
    images, labels : (n, 64) digit images in [0, 1] and their classes 0..n_causes-1 (sight and touch draw
        from them; pass the training split for training and the test split for testing).
    seed : the world's seed: it fixes the sound code of every cause, so two worlds with one seed agree.
    sight_noise, touch_noise, sound_noise : standard deviations of the Gaussian noise on each sense.
    sound_size : values per sound code.
    """

    def __init__(self, images, labels, *, seed: int, sight_noise: float = 0.5, touch_noise: float = 0.5,
                 sound_noise: float = 1.0, sound_size: int = 16):
        self.images, labels = checks.labelled(images, labels, nonempty=True)
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise StimulusError(f"labels must be class indices 0, 1, ... (non-negative integers), got dtype "
                                f"{labels.dtype}")
        self.labels = labels.astype(np.int64)
        self.n_causes = int(self.labels.max()) + 1
        if self.n_causes < 2:
            raise StimulusError(f"labels must name at least 2 classes, got {self.n_causes}")
        present = np.bincount(self.labels, minlength=self.n_causes)
        if (present == 0).any():
            raise StimulusError(f"every class 0..{self.n_causes - 1} needs an image; missing: "
                                f"{np.flatnonzero(present == 0).tolist()}")
        self.noise = {"sight": checks.real(sight_noise, "sight_noise", low=0),
                      "sound": checks.real(sound_noise, "sound_noise", low=0),
                      "touch": checks.real(touch_noise, "touch_noise", low=0)}
        size = checks.integer(sound_size, "sound_size", 1)
        self.codes = np.random.default_rng([checks.integer(seed, "seed", 0), 77]).normal(
            0.0, 1.0, (self.n_causes, size)).astype(np.float32)
        self._members = [np.flatnonzero(self.labels == k) for k in range(self.n_causes)]

    @property
    def sizes(self) -> dict[str, int]:
        """Values per stimulus of each sense."""
        return {"sight": self.images.shape[1], "sound": self.codes.shape[1], "touch": self.images.shape[1]}

    def _image_of(self, classes, rng):
        pick = np.array([self._members[k][rng.integers(len(self._members[k]))] for k in classes], dtype=np.int64)
        return self.images[pick].astype(np.float32)

    def sample(self, n: int, rng: np.random.Generator) -> SenseSample:
        """``n`` stimuli: sight and sound driven by one cause each, touch by an independent class."""
        n = checks.integer(n, "n", 1)
        rng = checks.rng(rng)
        cause = rng.integers(0, self.n_causes, n)
        other = rng.integers(0, self.n_causes, n)
        sight = self._image_of(cause, rng)
        touch = self._image_of(other, rng)
        sound = self.codes[cause].copy()
        senses = {"sight": sight, "sound": sound, "touch": touch}
        for name, x in senses.items():
            x += rng.normal(0.0, self.noise[name], x.shape).astype(np.float32)
        return SenseSample(senses, cause, {"sight": cause, "sound": cause, "touch": other})
