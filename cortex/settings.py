"""Defaults from the environment: ``CORTEX_<NAME>`` variables, one table, read when a default is needed.

Why: scientific Python tools take site-wide defaults from the environment (``OMP_NUM_THREADS``,
``JAX_PLATFORMS``, ``MPLBACKEND``), so a cluster job or a CI matrix can switch them without editing graphs.

- ``CORTEX_BACKEND`` (numpy, cupy, auto, array_api_strict): the array backend of every model built without
  an explicit ``backend=`` (``cortex.load``, ``cortex.run``, the experiments, ``cortex run``); like
  ``--backend``, it overrides the graph's ``backend:`` key.
- ``CORTEX_THREADS`` (a positive count, or ``default``): the BLAS / OpenMP threads of every cortex computing
  call (settling, learning, the baselines, the benchmark; :mod:`cortex.threadpool`); unset means 1. Like
  ``--threads`` on ``cortex run`` and ``cortex bench``.

Every option of the ``cortex`` command can also be set as ``CORTEX_<COMMAND>_<OPTION>`` (click's
``auto_envvar_prefix``), e.g. ``CORTEX_RUN_QUIET=1`` or ``CORTEX_DRAW_OUT=figs/graph.png``; a setting of the
table above applies to every command that has the option. A new setting is one entry in :data:`SETTINGS`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import CortexError

PREFIX = "CORTEX"


@dataclass(frozen=True)
class Setting:
    """One environment default: its variable, the values it accepts, and what it sets."""

    name: str
    choices: tuple[str, ...] | None
    doc: str

    @property
    def envvar(self) -> str:
        return f"{PREFIX}_{self.name.upper()}"


SETTINGS = {
    "backend": Setting("backend", ("numpy", "cupy", "auto", "array_api_strict"),
                       "the array backend of every model built without an explicit backend"),
    "threads": Setting("threads", None, "BLAS / OpenMP threads of cortex's computing calls (a count, or 'default')"),
    "debug": Setting("debug", ("0", "1", "false", "true", "no", "yes", "off", "on"),
                     "like ``cortex --debug``: errors also print their Python traceback"),
}


def flag(name: str) -> bool:
    """A yes/no setting (``CORTEX_DEBUG=1``): True for 1, true or yes."""
    return (setting(name) or "0").lower() in ("1", "true", "yes", "on")


def envvar(name: str) -> str:
    """The environment variable of setting ``name`` (``backend`` -> ``CORTEX_BACKEND``)."""
    return _setting(name).envvar


def setting(name: str) -> str | None:
    """The value of setting ``name`` from the environment, checked; None when it is unset or empty.

    Raises
    ------
    CortexError
        When the variable holds a value the setting does not accept (the message lists the choices).
    """
    s = _setting(name)
    value = os.environ.get(s.envvar, "").strip()
    if not value:
        return None
    if s.choices is not None and value not in s.choices:
        raise CortexError(f"environment variable {s.envvar}={value!r} is not one of {', '.join(s.choices)}")
    return value


def _setting(name: str) -> Setting:
    if name not in SETTINGS:
        raise CortexError(f"unknown setting {name!r}; settings: {', '.join(SETTINGS)}")
    return SETTINGS[name]
