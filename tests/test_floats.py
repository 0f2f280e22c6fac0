"""Float facts: one ulp of a format is numpy's spacing there."""

from __future__ import annotations

import numpy as np
import pytest

from radam_verify.floats import FLOAT32, FLOAT64, Format

FLOAT16 = Format("float16", 2.0**-11, 2.0**-25, np.float16)


def _spacing(fmt: Format, values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.spacing(np.abs(values).astype(fmt.numpy_type)).astype(np.float64)


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return bool(np.array_equal(got, want, equal_nan=True))


def test_one_ulp_is_the_spacing_at_every_float16() -> None:
    values = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    with np.errstate(all="ignore"):
        assert _same(FLOAT16.ulp(values.astype(np.float64)), _spacing(FLOAT16, values))


def test_one_ulp_is_the_spacing_at_float32_boundaries_and_random_patterns() -> None:
    """Every exponent with the mantissas around its ends, and a million random bit patterns
    (zero, subnormals, the largest finite value, inf and NaN among them)."""
    exponents = np.arange(256, dtype=np.uint32) << 23
    mantissas = np.array([0, 1, 2, 3, 2**22 - 1, 2**22, 2**22 + 1, 2**23 - 2, 2**23 - 1],
                         dtype=np.uint32)
    edges = (exponents[:, None] | mantissas[None, :]).reshape(-1)
    rng = np.random.default_rng(0)
    bits = np.concatenate([edges, edges | np.uint32(2**31),
                           rng.integers(0, 2**32, 10**6, dtype=np.uint32)])
    values = bits.view(np.float32)
    with np.errstate(all="ignore"):
        assert _same(FLOAT32.ulp(values.astype(np.float64)), _spacing(FLOAT32, values))


@pytest.mark.parametrize("fmt", [FLOAT32, FLOAT64], ids=["float32", "float64"])
def test_one_ulp_of_a_scalar_is_a_scalar(fmt: Format) -> None:
    one = fmt.ulp(np.float64(1.0))
    assert np.ndim(one) == 0
    assert float(one) == 2 * fmt.u
