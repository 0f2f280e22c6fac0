"""Hypothesis strategies for RAdam's inputs over the whole domain implementations accept.

Hyperparameters include b2 within 1e-5 of 1 and below 2/3 (never rectified), eps = 0,
weight decay; values are log-uniform over many decades, with exact zeros, subnormals
and sign flips.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
from hypothesis import strategies as st

from radam_verify.conventions import PRESETS, Convention
from radam_verify.floats import finfo
from radam_verify.hyper import Hyper


@cache
def log_uniform(lo_exp: float, hi_exp: float) -> st.SearchStrategy[float]:
    """Positive floats whose log10 is uniform in [lo_exp, hi_exp]."""
    return st.floats(lo_exp, hi_exp).map(lambda e: float(10.0**e))


@cache
def beta2s() -> st.SearchStrategy[float]:
    return st.one_of(
        st.sampled_from([0.999, 0.99, 0.9999]),
        st.floats(0.0, 0.6666, exclude_max=True),  # rectification never starts
        st.floats(0.6, 0.9999),
        log_uniform(-12, -5).map(lambda d: 1.0 - d),  # within 1e-5 of 1
    )


@cache
def hypers(weight_decay: bool = True) -> st.SearchStrategy[Hyper]:
    """Hyperparameters: lr in (0, 10], b1 in [0, 1), b2 in [0, 1), eps in [0, 0.1]."""
    return st.builds(
        Hyper,
        lr=st.one_of(st.just(1e-3), log_uniform(-6, 1)),
        beta1=st.one_of(st.just(0.9), st.floats(0.0, 0.999)),
        beta2=beta2s(),
        eps=st.one_of(st.just(1e-8), st.just(0.0), log_uniform(-12, -1)),
        weight_decay=st.one_of(st.just(0.0), log_uniform(-4, 0)) if weight_decay else st.just(0.0),
        maximize=st.booleans(),
    )


@cache
def conventions() -> st.SearchStrategy[Convention]:
    """Every preset; a quarter of the draws a preset with a constant inside the root,
    ``eps_root`` from 1e-16 to 0.1 (optax's keyword, 0 by default), and a quarter one of
    Adam's or LAMB's presets with only one moment bias-corrected (optax's amsgrad flags)."""
    presets = st.sampled_from(list(PRESETS.values()))
    rooted = st.builds(lambda c, r: replace(c, eps_root=r), presets,
                       st.one_of(st.just(1e-8), log_uniform(-16, -1)))
    halves = st.builds(lambda c, b: replace(c, bias_correction=b),
                       st.sampled_from([c for c in PRESETS.values() if c.is_adam]),
                       st.sampled_from(["m", "v"]))
    return st.one_of(presets, presets, rooted, halves)


def magnitudes(dtype: type[np.floating], lo_exp: int, hi_exp: int) -> st.SearchStrategy[float]:
    """Signed values log-uniform over decades, plus zeros and subnormals of ``dtype``."""
    return _magnitudes(np.dtype(dtype).name, lo_exp, hi_exp)


# strategies are built once per format and range: Hypothesis validates every new strategy
# object when it is first drawn from, which costs more than the draw itself
@cache
def _magnitudes(name: str, lo_exp: int, hi_exp: int) -> st.SearchStrategy[float]:
    dtype = np.dtype(name).type
    tiny = finfo(dtype).smallest_subnormal
    return st.one_of(
        st.tuples(st.sampled_from([-1.0, 1.0]), log_uniform(lo_exp, hi_exp)).map(
            lambda p: float(dtype(p[0] * p[1]))),
        st.just(0.0),
        st.integers(1, 1000).map(lambda k: float(dtype(k * tiny))),
    )


def arrays(dtype: type[np.floating], size: int, lo_exp: int, hi_exp: int
           ) -> st.SearchStrategy[np.ndarray]:
    """``size`` values of :func:`magnitudes` as an array of ``dtype``."""
    return _arrays(np.dtype(dtype).name, size, lo_exp, hi_exp)


@cache
def _arrays(name: str, size: int, lo_exp: int, hi_exp: int) -> st.SearchStrategy[np.ndarray]:
    dtype = np.dtype(name).type
    return st.lists(_magnitudes(name, lo_exp, hi_exp), min_size=size, max_size=size).map(
        lambda xs: np.asarray(xs, dtype=dtype))


def gradient_sequences(dtype: type[np.floating], size: int, steps: int
                       ) -> st.SearchStrategy[list[np.ndarray]]:
    return st.lists(arrays(dtype, size, -6, 2), min_size=steps, max_size=steps)
