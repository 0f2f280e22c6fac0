"""Property 13: tensors of every size and shape, on every code path, follow the exact step.

Implementations run other code on real tensors than on the handful of elements most tests
use: vectorised kernels with an 8- or 16-lane body and a scalar tail, work split across
threads above a grain size (torch's CPU kernels split above 32,768 elements), multi-tensor
chunking in foreach and fused paths, kernels that iterate over dimensions. This property
draws shapes over that range (:data:`radam_verify.suite.draws.SHAPES`; in ci and thorough
also :data:`~radam_verify.suite.draws.LARGE_SHAPES`, up to about 10^6 elements), several
tensors of different shapes per group, and judges each element. Hypothesis shrinks a
failure towards the smallest shape that still fails (shapes are drawn smallest first), and
the counterexample names the tensor's shape and its first failing element. Large tensors
are judged by the certified fast reference (:mod:`radam_verify.fast_judge`; around a
double-double centre in float64).
"""

from __future__ import annotations

from radam_verify.suite import checks, designed, draws
from radam_verify.suite.scenario import Scenario
from radam_verify.suite.target import Record, Target, calling, require_conforms


def test_tensors_of_every_size_and_shape_follow_the_exact_step(
        verify_target: Target, verify_record: Record, verify_path: str | None) -> None:
    """Tensors from 0-d and one element through vector widths and their tails to thousands
    (and, in ci and thorough, above 32,768 up to about 10^6 elements), one to three of
    different shapes per group, on each code path the implementation offers, for one to
    four steps from a fresh state or one injected at any step count; first, a designed
    example that crosses the first rectified step with tensors that have vector tails
    (:func:`radam_verify.suite.designed.crossing`)."""
    what = "shapes" if verify_path is None else f"shapes on code path {verify_path}"

    def prop(scenario: Scenario) -> None:
        outcome = calling(verify_target, what, scenario, lambda: checks.exact(
            verify_target.adapter, scenario, verify_target.convention))
        require_conforms(verify_target, what, scenario, outcome, verify_record)

    verify_target.verify(draws.sized(verify_target, path=verify_path), prop,
                         verify_target.profile.size_examples,
                         designed=[designed.crossing(verify_target, verify_path)])
