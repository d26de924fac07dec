"""What every service client shares: one httpx client, and errors translated at the edge.

Errors a client raises (all :class:`~wikisaga.errors.ServiceCallError`, drawn in
:mod:`wikisaga.errors`)::

    ServiceCallError                   a call to an internal service did not succeed
    ├── ServiceUnreachable             refused or dropped before an answer (ConnectionError)
    ├── ServiceTimeout                 no answer in time — it may have been applied (TimeoutError)
    └── ServiceResponseError           the service answered with an error status
        ├── ServiceFailed              5xx: the service's own failure; worth a retry
        └── ServiceRejected            4xx: the request is wrong or not allowed; never retried

``is_transient`` says which are worth retrying. Retrying is only done for idempotent
requests (they carry an ``Idempotency-Key`` or a client-chosen id).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from typing import Any, Self

import httpx

from wikisaga import json_codec
from wikisaga.errors import (
    ServiceCallError,
    ServiceFailed,
    ServiceRejected,
    ServiceTimeout,
    ServiceUnreachable,
)

__all__ = ["ServiceClient", "is_transient", "was_not_applied"]


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is worth retrying (for idempotent requests only)."""
    return isinstance(error, ServiceUnreachable | ServiceTimeout | ServiceFailed)


def was_not_applied(error: BaseException) -> bool:
    """Whether ``error`` proves the request had no effect on the service.

    True when no connection was made (refused, or timed out while connecting: not a byte
    of the request was sent), and for a 4xx answer (our services validate a request
    completely before writing, and write nothing when they refuse it). A timeout or a
    dropped connection after sending, and a 5xx, prove nothing.
    """
    if isinstance(error, ServiceRejected):
        return True
    return isinstance(error, ServiceCallError) and isinstance(
        error.__cause__, httpx.ConnectError | httpx.ConnectTimeout
    )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle: ~35 ms of CPU that httpx would otherwise
    # spend for every client, even one that only speaks plain http:// on loopback. The
    # trust store is the same (certifi's) as httpx's own default.
    return httpx.create_ssl_context()


class ServiceClient:
    """An httpx client for one internal service, with the internal headers on every call."""

    service = "service"

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=dict(headers),
            timeout=timeout,
            transport=transport,
            verify=_ssl_context(),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request; return the response if it succeeded (or its status is in
        ``allow``), else raise the matching :class:`ServiceCallError`."""
        headers: dict[bytes, bytes] = {}
        if user_id is not None:
            # UTF-8 on the wire, as the services read it (httpx would send ASCII only).
            headers[b"X-User-ID"] = user_id.encode("utf-8")
        if idempotency_key is not None:
            headers[b"Idempotency-Key"] = idempotency_key.encode("utf-8")
        content = None
        if json is not None:
            # The bytes httpx would send for ``json=``, written by orjson (``json_codec``).
            content = json_codec.dumps(json)
            headers[b"Content-Type"] = b"application/json"
        url = f"{self.base_url}{path}"
        try:
            response = self._client.request(
                method, path, content=content, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise ServiceTimeout(self.service, method, url, f"no answer in time ({exc})") from exc
        except httpx.TransportError as exc:
            raise ServiceUnreachable(
                self.service, method, url, f"{type(exc).__name__}: {exc or 'connection failed'}"
            ) from exc
        if response.is_success or response.status_code in allow:
            return response
        error, detail = _error_of(response)
        kind = ServiceFailed if response.status_code >= 500 else ServiceRejected
        raise kind(
            self.service, method, url, status=response.status_code, error=error, detail=detail
        )


def _error_of(response: httpx.Response) -> tuple[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error", response.text[:500]
    if isinstance(body, dict):
        return str(body.get("error", response.reason_phrase)), body.get("detail", body)
    return response.reason_phrase or "error", body
