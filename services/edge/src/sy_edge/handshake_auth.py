"""The charger's handshake: admission control, then who it is (docs/security.md)."""

from __future__ import annotations

import logging
import time
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from sy_edge import metrics
from sy_edge.admission import Admission
from sy_edge.admitted import Admitted
from sy_edge.auth.gate import decide, refuse
from sy_edge.auth.identity import (
    Presented,
    TrustedProxies,
    basic_credentials,
    peer_cert_identities,
    pem_cert_identities,
)
from sy_edge.context import EdgeContext

log = logging.getLogger(__name__)
CHALLENGE = 'Basic realm="Switchyard", charset="UTF-8"'
UNAVAILABLE = {
    "busy": "Too many chargers connecting; your turn is kept",
    "draining": "This gateway replica is shutting down; connect again",
    "lookup_failed": "Credentials cannot be checked right now",
}


class Gatekeeper:
    def __init__(self, ctx: EdgeContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self.admission = Admission(
            settings.handshake_rate_per_s, settings.handshake_burst, settings.retry_after_jitter_s
        )
        self.proxies = TrustedProxies(settings.trusted_proxies)

    def admit(self, connection: ServerConnection, charger_id: str) -> Response | None:
        """None: let the charger in. Otherwise HTTP 503 with its slot as Retry-After."""
        seconds = self.admission.admit(charger_id, time.monotonic())
        metrics.ADMISSION_WAITING.set(self.admission.waiting)
        if seconds is None:
            return None
        return self._unavailable(connection, "busy", seconds)

    def busy(self, connection: ServerConnection, why: str) -> Response:
        """HTTP 503 without a slot: the replica drains, or credentials cannot be checked now."""
        return self._unavailable(connection, why, self.admission.retry_later(time.monotonic()))

    def _unavailable(self, connection: ServerConnection, why: str, seconds: int) -> Response:
        """HTTP 503 with Retry-After (RFC 9110 §15.6.4)."""
        metrics.REFUSED.labels(why).inc()
        response = connection.respond(
            HTTPStatus.SERVICE_UNAVAILABLE, f"{UNAVAILABLE.get(why, why)}; retry in {seconds}s\n"
        )
        response.headers["Retry-After"] = str(seconds)
        return response

    async def authenticate(
        self, connection: ServerConnection, request: Request, charger_id: str
    ) -> Admitted | Response:
        access = self.ctx.access
        presented = self.presented(connection, request.headers)
        try:
            record = await access.record(charger_id)
        except Exception as exc:  # database unreachable: not the charger's fault
            log.error("credential lookup failed: %s", exc, extra={"charger_id": charger_id})
            return self.busy(connection, "lookup_failed")
        policy = access.policy(charger_id)
        verdict = decide(
            charger_id,
            presented,
            record.credential,
            policy.allow_unauthenticated,
            spoofed_detail=lambda: (
                "identity header from an untrusted address: " + ", ".join(presented.spoofed_headers)
            ),
        )
        if verdict.accepted and verdict.password_check:
            assert record.credential is not None and presented.password is not None
            if not await access.verify_password(charger_id, record.credential, presented.password):
                verdict = refuse("wrong_password", "wrong password")
        if not verdict.accepted:
            remote = _remote(connection)
            metrics.AUTH_REFUSED.labels(verdict.reason).inc()
            log.warning(
                "refused %s from %s: %s",
                verdict.reason,
                remote,
                verdict.detail,
                extra={"charger_id": charger_id},
            )
            access.refused(charger_id, remote, verdict.reason, verdict.detail)
            response = connection.respond(
                HTTPStatus.UNAUTHORIZED, f"Charger not authorised: {verdict.detail}\n"
            )
            response.headers["WWW-Authenticate"] = CHALLENGE
            return response
        return Admitted(verdict, policy, record.boot)

    def presented(self, connection: ServerConnection, headers: Headers) -> Presented:
        settings = self.ctx.settings
        basic = basic_credentials(headers.get("Authorization"))
        ssl_object = connection.transport.get_extra_info("ssl_object")
        secure = ssl_object is not None
        identities = peer_cert_identities(ssl_object.getpeercert()) if ssl_object else ()
        proxy_headers = [
            name
            for name in (settings.proxy_cert_header, settings.proxy_identity_header)
            if name and name in headers
        ]
        peer = connection.remote_address[0] if connection.remote_address else None
        via_proxy = self.proxies.trusts(peer)
        spoofed: tuple[str, ...] = ()
        if via_proxy:
            if settings.proxy_cert_header and settings.proxy_cert_header in headers:
                identities += pem_cert_identities(headers[settings.proxy_cert_header])
            if settings.proxy_identity_header and settings.proxy_identity_header in headers:
                identities += (headers[settings.proxy_identity_header].strip(),)
            proto = headers.get(settings.proxy_proto_header, "").strip().lower()
            secure = secure or proto in ("https", "wss")
        elif proxy_headers:
            spoofed = tuple(proxy_headers)
            metrics.REFUSED.labels("spoofed_header").inc()
            log.warning("identity headers %s from untrusted %s ignored", proxy_headers, peer)
        return Presented(
            username=basic[0] if basic else None,
            password=basic[1] if basic else None,
            cert_identities=identities,
            secure=secure,
            via_proxy=via_proxy,
            spoofed_headers=spoofed,
        )


def _remote(connection: ServerConnection) -> str:
    addr = connection.remote_address
    return f"{addr[0]}:{addr[1]}" if addr else "unknown"
