"""One way to make values JSON-safe, for results files and checkpoint manifests alike."""
from __future__ import annotations

import math
from typing import Any


def jsonable(value: Any) -> Any:
    """Dicts, lists, tensors and numpy values -> plain JSON types. NaN/inf become None ("not
    measured"): JSON has no NaN. Anything else unknown becomes its str()."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if hasattr(value, "numel") and value.numel() != 1:  # a tensor with several values
        return jsonable(value.tolist())
    if hasattr(value, "item"):  # tensors and numpy scalars
        return jsonable(value.item())
    return str(value)
