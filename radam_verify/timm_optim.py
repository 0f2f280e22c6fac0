"""timm's own optimizer modules, imported without ``timm/__init__.py``.

``import timm`` imports ``timm.layers`` and ``timm.models``, and with them torchvision,
which does not load beside torch 2.13's CPU build; ``timm.optim.radam`` itself needs only
torch and ``timm.optim._helpers``. This module registers the packages ``timm`` and
``timm.optim`` as empty packages whose search path is the installed distribution's folders
(their ``__init__`` files are not run), then imports ``timm.optim.radam``,
``timm.optim.lamb`` and ``timm.optim.lookahead`` from the installed files unchanged, so the
classes verified are timm's own code, as timm ships it:

    radam-verify check radam_verify.timm_optim:RAdamLegacy
    radam-verify check radam_verify.timm_optim:Lamb --kwargs '{"max_grad_norm": null}'
    radam-verify check radam_verify.timm_optim:Lookahead \
        --kwargs '{"inner": "torch.optim:RAdam", "foreach": false}' \
        --convention pytorch,lookahead_k=6,lookahead_start=first-sync

Install timm without its dependencies (``pip install --no-deps timm``; the Makefile does).
In a process that imported the real ``timm`` package first, that package is used as it is.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

from radam_verify.errors import UsageError


def _install_packages() -> None:
    """``timm`` and ``timm.optim`` as packages over the installed folders, without running
    their ``__init__`` (a no-op where they are imported already)."""
    if "timm" in sys.modules:
        return
    found = importlib.util.find_spec("timm")
    if found is None or not found.submodule_search_locations:
        raise UsageError("timm is not installed; install it without its dependencies "
                         "(pip install --no-deps timm), which timm.optim.radam does not need")
    root = Path(next(iter(found.submodule_search_locations)))
    for name, folder in (("timm", root), ("timm.optim", root / "optim")):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        package.__package__ = name
        # a spec of its own, so that importlib.util.find_spec("timm") answers (it raises
        # ValueError for a module in sys.modules whose __spec__ is None)
        package.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        package.__spec__.submodule_search_locations = [str(folder)]
        sys.modules[name] = package


_install_packages()

from timm.optim.lamb import Lamb  # noqa: E402  (after the packages exist)
from timm.optim.lookahead import Lookahead  # noqa: E402
from timm.optim.radam import RAdamLegacy  # noqa: E402

__all__ = ["Lamb", "Lookahead", "RAdamLegacy"]
