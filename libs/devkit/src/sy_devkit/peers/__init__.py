"""Real OCPP peers built with the `ocpp` library: a CSMS and chargers, for tests and benchmarks."""

from sy_devkit.peers.charger import Charger16, Charger201, connect_charger
from sy_devkit.peers.csms import CsmsPeer
from sy_devkit.peers.recording import RecordingConnection

__all__ = ["Charger16", "Charger201", "CsmsPeer", "RecordingConnection", "connect_charger"]
