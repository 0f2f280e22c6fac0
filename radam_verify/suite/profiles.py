"""Suite profiles: how many examples each property draws and how long trajectories are."""

from __future__ import annotations

from dataclasses import dataclass

from radam_verify.errors import UsageError


@dataclass(frozen=True)
class SuiteProfile:
    """``examples`` per property; trajectories of ``min_steps``..``max_steps`` steps."""

    name: str
    examples: int
    max_steps: int
    size: int  # elements per parameter tensor
    long_run: int  # steps of the late-regime run when the state cannot be injected
    path_examples: int  # examples per code path
    #: the most elements times steps a drawn parameter of a numerical property may take
    #: (radam_verify.suite.draws.param): one- and two-step examples reach the largest
    #: shapes, long trajectories stay in the thousands
    element_steps: int

    @property
    def contract_examples(self) -> int:
        """Examples of a property that checks an API contract bit for bit on every step (a
        third of ``examples``, at least 5)."""
        return max(5, self.examples // 3)

    @property
    def size_examples(self) -> int:
        """Examples of the shapes property per code path (a third of ``path_examples``, at
        least 10): each runs tensors of up to 10^6 elements."""
        return max(10, self.path_examples // 3)

    @property
    def view_examples(self) -> int:
        """Examples of the views property per code path (a quarter of ``path_examples``, at
        least 8)."""
        return max(8, self.path_examples // 4)


PROFILES = {
    "quick": SuiteProfile("quick", examples=30, max_steps=12, size=4, long_run=300, path_examples=15,
                           element_steps=40_000),
    "ci": SuiteProfile("ci", examples=100, max_steps=60, size=6, long_run=1500, path_examples=40,
                        element_steps=2_200_000),
    "thorough": SuiteProfile("thorough", examples=1000, max_steps=300, size=8, long_run=6000,
                             path_examples=300, element_steps=2_200_000),
}


def get_profile(name: str) -> SuiteProfile:
    if name not in PROFILES:
        raise UsageError(f"--verify-profile={name!r} is unknown; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]
