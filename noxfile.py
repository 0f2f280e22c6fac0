"""Environments of their own for frameworks whose dependencies conflict with the main one.

Each ``framework(name=...)`` session is a cached virtual environment with radam-verify
(and, for a framework built on torch, torch from ``constraints.txt``) plus exactly the
packages ``FRAMEWORKS`` lists; it runs
that framework's adapter tests (``frameworks/test_<name>.py``) against the real package.
``radam-verify matrix`` runs a configuration that names an environment inside it
(``nox -s "framework(name='fastai')" --install-only`` builds it once; later runs reuse it).

    .venv/bin/nox -s framework                          # every framework's tests
    .venv/bin/nox -s "framework(name='fastai')"         # one of them
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

#: name -> (pip arguments installed without dependencies, pip arguments installed with them)
FRAMEWORKS: dict[str, tuple[list[str], list[str]]] = {
    # fastai's declared dependencies include torchvision (which does not load beside torch
    # 2.13's CPU build), spaCy and scikit-learn; fastai.optimizer imports only these
    "fastai": (["fastai==2.8.12"],
               ["fastcore==2.2.38", "fasttransform==0.0.5", "fastprogress==1.1.6",
                "plum-dispatch<2.10", "pandas", "scipy", "matplotlib", "requests", "pyyaml"]),
    # PaddlePaddle's CPU wheel with its declared dependencies (numpy, protobuf, Pillow, ...)
    "paddle": ([], ["paddlepaddle==3.3.1"]),
    # TensorFlow 2.15, the last release TensorFlow Addons supports; it pins numpy < 2, so
    # radam-verify runs here with numpy 1.26
    "tensorflow": ([], ["tensorflow-cpu==2.15.1", "tensorflow-addons==0.23.0"]),
    # MindSpore's CPU wheel (about 0.8 GB, 2.8 GB installed) with its declared dependencies
    "mindspore": ([], ["mindspore==2.10.0"]),
    # bitsandbytes' optimizers on its CPU backend (a pure-torch kernel), on torch 2.13's CPU
    # build; about 60 MB
    "bitsandbytes": ([], ["bitsandbytes==0.50.2"]),
}
#: radam-verify's own tests that need only numpy, run in a framework's environment as well
#: (``tensorflow``'s has numpy 1.26, the main one numpy 2)
OWN_TESTS: dict[str, list[str]] = {
    "tensorflow": ["tests/test_floats.py", "tests/test_dd.py", "tests/test_fast_judge.py",
                   "tests/test_tolerance.py", "tests/test_reference.py",
                   "tests/test_schedule.py", "tests/test_conventions.py"],
}
#: the frameworks that need radam-verify's torch extra (fastai and bitsandbytes are built on
#: torch; Paddle is not)
TORCH = {"fastai", "bitsandbytes"}


@nox.session
@nox.parametrize("name", list(FRAMEWORKS))
def framework(session: nox.Session, name: str) -> None:
    """One framework's environment, and its adapter's tests against the real package."""
    alone, together = FRAMEWORKS[name]
    # one resolution: the framework's pins (numpy < 2 for TensorFlow) hold for radam-verify too
    session.install("-c", "constraints.txt", "-e", ".[torch]" if name in TORCH else ".",
                    "pytest-xdist>=3.8", *together)
    if alone:
        session.install("--no-deps", *alone)
    session.run("pytest", "-p", "no:cacheprovider", "-n", "2", f"frameworks/test_{name}.py",
                *OWN_TESTS.get(name, []), *session.posargs)
