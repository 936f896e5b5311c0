"""What a command group's `register` receives."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # the class is not subscriptable at run time on Python 3.11
    Commands: TypeAlias = argparse._SubParsersAction
