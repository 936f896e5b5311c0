"""sy_quirks: declarative rules that normalise what real chargers send. Sans-I/O.

Profiles (YAML) name rules and the chargers they fit (vendor / model / firmware from the
BootNotification). The edge asks a `QuirkBook` for a charger's `QuirkSet` and applies it to each
frame before validation. See docs/quirks.md for every rule type.
"""

from sy_quirks.engine import NO_QUIRKS, QuirkBook, QuirkSet
from sy_quirks.jsonrepair import FIXES, repair
from sy_quirks.paths import FieldPath
from sy_quirks.profiles import BootInfo, Profile, ProfileError, load_profile
from sy_quirks.rules import RULE_TYPES, Rule
from sy_quirks.timestamps import repair_timestamp

__all__ = [
    "FIXES",
    "NO_QUIRKS",
    "RULE_TYPES",
    "BootInfo",
    "FieldPath",
    "Profile",
    "ProfileError",
    "QuirkBook",
    "QuirkSet",
    "Rule",
    "load_profile",
    "repair",
    "repair_timestamp",
]
