"""The TLS context of the charger endpoint (security profiles 2 and 3).

TLS 1.2 or newer only (A00.FR.312 / A00.FR.416), no TLS compression (A00.FR.320, off in OpenSSL
builds Python uses; OP_NO_COMPRESSION set anyway). With a client CA, certificates are requested
and verified against it (A00.FR.403) but not required, so profile 2 chargers (Basic auth) and
profile 3 chargers share the port; which one a charger must use is its own record's business.
"""

from __future__ import annotations

import ssl

from sy_edge.settings import EdgeSettings


def server_context(settings: EdgeSettings) -> ssl.SSLContext | None:
    if not settings.tls_cert_file:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    if settings.tls_client_ca_file:
        context.load_verify_locations(settings.tls_client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
