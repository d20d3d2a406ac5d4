# Build-time shim, on PYTHONPATH only for builds that did not come through `make` (see
# .cargo/config.toml). torch-sys asks python for torch's location: hand over to the real torch
# if one is importable, else fail with a message that says how to set it up.
import os
import sys

_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules["torch"]
try:
    import torch as _real  # noqa: E402
except ImportError:
    raise ImportError(
        "lab: no PyTorch 2.13.0 found for libtorch. Run `make build` (or `make test`): it installs "
        "torch==2.13.0 into ~/.cache/lab/venv and builds with that venv active."
    ) from None
sys.modules["torch"] = _real
