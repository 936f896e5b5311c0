"""One outstanding CALL per direction per charger (invariant 2), and matching answers to CALLs.

Both the edge (toward the charger) and the connectors (toward each backend) need the same two
pieces: a serial lane that runs one CALL at a time in arrival order without blocking whoever hands
it work, and a table of outstanding CALLs that matches a CALLRESULT/CALLERROR to the CALL it
answers (unknown ids are reported so the caller logs and drops them, invariant 3).
"""

from sy_calls.lane import Lane, LaneClosed
from sy_calls.pending import PendingCalls
from sy_calls.tasks import stop_task

__all__ = ["Lane", "LaneClosed", "PendingCalls", "stop_task"]
