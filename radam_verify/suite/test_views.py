"""Property 14: parameters that are strided views follow the exact step and write only inside.

Real parameters are often not contiguous tensors of their own: a slice with a step, a
column of a matrix, a transposed weight, a channels_last 4-d tensor, a slice of one flat
buffer that holds every parameter; and a gradient can have other strides than its
parameter. A kernel that assumes contiguous memory (a data pointer and a count, the
parameter's strides for the gradient) then reads and writes the wrong elements. This
property places every parameter as a strided view into a larger storage whose other
elements hold canary values (:mod:`radam_verify.views`), lays out each gradient by strides
of its own, and requires, on each code path, every element of the view to follow the exact
step, the view to hold the parameter's values (a parameter given new storage leaves its
view behind), and every canary to be unchanged after every step.
"""

from __future__ import annotations

import pytest

from radam_verify.suite import checks, designed, draws
from radam_verify.suite.scenario import Outcome, Scenario
from radam_verify.suite.target import Record, Target, calling, fail, require_conforms


def test_strided_views_follow_the_exact_step_and_write_only_inside_them(
        verify_target: Target, verify_record: Record, verify_path: str | None) -> None:
    """Parameters of the shapes of property 13 (up to 70,000 elements) placed inside larger
    storages (contiguous between canaries, every 2nd or 3rd element, rows with gaps,
    transposed, channels_last), gradients in another of these layouts, one to three tensors
    per group, on each code path, from a fresh or an injected state; first, a designed
    example with a strided parameter and a strided gradient
    (:func:`radam_verify.suite.designed.crossing_placed`)."""
    caps = verify_target.adapter.capabilities
    if not caps.views:
        pytest.skip(caps.notes.get("views", "the implementation's tensors are not strided views "
                                   "(its framework has no strides, or the adapter cannot place them)"))
    what = "strided views" if verify_path is None else f"strided views on code path {verify_path}"
    check: dict[str, object] = {"kind": "placed"}

    def prop(scenario: Scenario) -> None:
        found = calling(verify_target, what, scenario, lambda: checks.placed(
            verify_target.adapter, scenario, verify_target.convention), check)
        if isinstance(found, Outcome):
            require_conforms(verify_target, what, scenario, found, verify_record, check)
            return
        verify_record.count()
        raise fail(verify_target, what, scenario, str(found),
                   {"quantity": found.quantity, "mismatch": str(found)}, check)

    verify_target.verify(draws.placed(verify_target, path=verify_path), prop,
                         verify_target.profile.view_examples,
                         designed=[designed.crossing_placed(verify_target, verify_path)])
