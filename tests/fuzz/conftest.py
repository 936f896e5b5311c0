"""The fuzzing suite runs on its own (`make fuzz`, after `make test` in CI): it takes minutes."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("SY_FUZZ") == "1" else ["test_*.py"]
