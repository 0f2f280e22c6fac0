"""Where a tensor lies in memory: a strided view into a larger storage, with canaries around it.

Real parameters are often not contiguous: a slice with a step, a column of a matrix, a
transposed weight, a channels_last 4-d tensor; and a gradient may have other strides than
its parameter. Kernels that assume contiguous memory (a data pointer and a count) then read
and write the wrong elements. A :class:`Strided` describes a tensor as ``as_strided(shape,
strides, offset)`` into a flat storage of ``size`` elements (strides and offset in
elements, as torch and numpy's ``as_strided`` take them, numpy's in bytes). Every storage
element outside the view holds a canary value (:func:`canaries`), which a step must leave
unchanged.

The kinds, each a layout real code produces:

* ``inside``: contiguous, with canaries before and after it (a slice of a flat buffer, as
  parameters flattened into one buffer are);
* ``every-k``: every k-th element from an offset (``x[o::k]``; for one dimension, a column
  of a matrix with k columns);
* ``padded-rows``: rows of the last dimension with a gap between them (a slice of the
  columns of a matrix);
* ``transposed``: every dimension reversed (a transposed weight, column-major memory);
* ``channels_last``: a 4-d (N, C, H, W) tensor with C the fastest dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KINDS = ("inside", "every-k", "padded-rows", "transposed", "channels_last")


@dataclass(frozen=True)
class Strided:
    """A view ``as_strided(shape, strides, offset)`` into a storage of ``size`` elements."""

    kind: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int
    size: int

    def indices(self) -> np.ndarray:
        """The storage index of every element of the view, in row-major order of the view."""
        index = np.full(self.shape, self.offset, dtype=np.int64)
        for axis, (n, stride) in enumerate(zip(self.shape, self.strides, strict=True)):
            shape = [1] * len(self.shape)
            shape[axis] = n
            index = index + (np.arange(n, dtype=np.int64) * stride).reshape(shape)
        return index.reshape(-1)

    def place(self, values: np.ndarray) -> np.ndarray:
        """The storage (float64) holding ``values`` (row-major) in the view, canaries elsewhere."""
        storage = canaries(self.size)
        storage[self.indices()] = np.asarray(values, dtype=np.float64).reshape(-1)
        return storage

    def outside(self) -> np.ndarray:
        """The storage indices outside the view, in increasing order."""
        inside = np.zeros(self.size, dtype=bool)
        inside[self.indices()] = True
        return np.flatnonzero(~inside)

    def describe(self) -> str:
        """The view in words, e.g. ``every 3rd element from offset 1 of a 25-element storage``."""
        around = f"of a {self.size}-element storage"
        if self.kind == "inside":
            return f"contiguous from offset {self.offset} {around}"
        if self.kind == "every-k":
            step = self.strides[-1] if self.strides else 1
            return f"every {_ordinal(step)} element from offset {self.offset} {around}"
        if self.kind == "padded-rows":
            return f"rows {self.strides[-2]} elements apart from offset {self.offset} {around}"
        if self.kind == "transposed":
            return f"transposed (strides {self.strides}) {around}"
        return f"channels_last (strides {self.strides}) {around}"

    def json(self) -> dict[str, object]:
        return {"kind": self.kind, "shape": list(self.shape), "strides": list(self.strides),
                "offset": self.offset, "size": self.size}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Strided:
        shape, strides = data["shape"], data["strides"]
        assert isinstance(shape, list)
        assert isinstance(strides, list)
        return cls(str(data["kind"]), tuple(int(n) for n in shape),
                   tuple(int(s) for s in strides), int(str(data["offset"])),
                   int(str(data["size"])))


@dataclass(frozen=True)
class Placement:
    """Where a parameter lies (canaries around it) and where each of its gradients lies."""

    param: Strided
    grad: Strided

    def describe(self) -> str:
        return f"parameter {self.param.describe()}, gradient {self.grad.describe()}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _row_major(shape: tuple[int, ...], scale: int = 1) -> tuple[int, ...]:
    strides, step = [], scale
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _extent(shape: tuple[int, ...], strides: tuple[int, ...], offset: int) -> int:
    """One past the largest storage index the view reaches."""
    if any(n == 0 for n in shape):
        return offset
    return offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True)) + 1


def strided(kind: str, shape: tuple[int, ...], *, step: int = 2, offset: int = 0,
            gap: int = 0) -> Strided:
    """The view of ``kind`` for a tensor of ``shape``; ``step`` (every-k), ``offset`` (the
    canaries before it) and ``gap`` (canaries after it, or between rows for padded-rows)."""
    if kind == "inside":
        strides = _row_major(shape)
    elif kind == "every-k":
        strides = _row_major(shape, step)
    elif kind == "padded-rows":
        if len(shape) < 2:
            raise ValueError("padded-rows needs at least two dimensions")
        inner = _row_major(shape[1:])
        row = math.prod(shape[1:]) + max(gap, 1)
        strides = (row, *inner)
    elif kind == "transposed":
        strides = tuple(reversed(_row_major(tuple(reversed(shape)))))
    elif kind == "channels_last":
        if len(shape) != 4:
            raise ValueError("channels_last needs four dimensions (N, C, H, W)")
        _, c, h, w = shape
        strides = (h * w * c, 1, w * c, c)
    else:
        raise ValueError(f"unknown view kind {kind!r}; the kinds are {', '.join(KINDS)}")
    return Strided(kind, shape, strides, offset, _extent(shape, strides, offset) + gap)


def kinds_for(shape: tuple[int, ...]) -> tuple[str, ...]:
    """The view kinds that make sense for ``shape`` (each a different memory layout)."""
    kinds = ["inside", "every-k"]
    if len(shape) >= 2:
        kinds += ["padded-rows", "transposed"]
    if len(shape) == 4:
        kinds.append("channels_last")
    return tuple(kinds)


def canaries(size: int) -> np.ndarray:
    """Canary values for a storage of ``size`` elements: -(17 + i mod 16) / 8, exact in every
    format down to bfloat16 and float16, negative and distinct from their neighbours, so a
    write of any other value, or of a neighbour's canary, shows."""
    return -(17.0 + np.arange(size) % 16) / 8.0
