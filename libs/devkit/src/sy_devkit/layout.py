"""Where the local suite's pieces listen by default (no imports: the CLI reads this at start)."""

SERVICES = ("routing", "connectors", "journal", "migration", "edge")
DEFAULT_HTTP_PORTS = {
    "edge": 8701,
    "routing": 8702,
    "connectors": 8703,
    "journal": 8704,
    "migration": 8705,
}
DEFAULT_OCPP_PORT = 9000
