"""The one WeCom HTTP client: keep-alive session, per-call timeouts, errcodes, token refresh, pagination.

Every WeCom call leaves through the session ``new_session`` makes, through ``WECOM_PROXY_URL`` when set (a
proxy with a fixed IP for WeCom's 「企业可信IP」): the proxy is the session's, passed with each request, never
``HTTPS_PROXY`` in the environment, so no AWS call (botocore) ever takes it. A setup errcode (``errcodes.
SETUP_ERRCODES``) becomes a ``SetupError``: reported once with its fix (``wecom.setup``), never retried.

Why it owns token refresh: WeCom signals an expired or revoked token through errcodes (40001/40014/42001)
on *any* call, so the only place that can refresh-and-retry-once uniformly is the client itself. It does not
retry transport faults: each caller has its own budget (20 s for a welcome, 15 minutes for a sync).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from wecom_bundle.wecom.errcodes import GETTOKEN_SETUP_ERRCODES, SETUP_ERRCODES, Errcode
from wecom_bundle.wecom.errors import SetupError, TokenError, TransportError, error_for

GETTOKEN = "gettoken"  # the one path the transport calls itself (every other path lives in its area's module)
DEFAULT_CONNECT_TIMEOUT = 3.05
DEFAULT_READ_TIMEOUT = 10.0
Timeout = float | tuple[float, float]
Retry = Callable[[Callable[[], dict[str, Any]]], dict[str, Any]]


class TokenSource(Protocol):
    """Where the client gets access tokens (see ``wecom_bundle.wecom.token_store``)."""

    def get(self, timeout: float) -> str: ...

    def invalidate(self, token: str) -> None: ...


class SetupSink(Protocol):
    """Where setup errors are reported (``wecom_bundle.wecom.setup.SetupReporter``)."""

    def report(self, error: SetupError) -> None: ...


# On the calls that change an object another app owns, 48002 means "not ours", not a missing permission.
OWNED_OBJECT_SETUP_ERRCODES = SETUP_ERRCODES - {Errcode.API_FORBIDDEN}


def new_session(proxy_url: str = "") -> requests.Session:
    """A keep-alive session for WeCom; with ``proxy_url`` every request (http and https) goes through it."""
    session = requests.Session()
    if proxy_url:
        session.proxies = {"http": proxy_url, "https": proxy_url}
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _decode(response: requests.Response, path: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise TransportError(path, f"HTTP {response.status_code}", response.status_code)
    try:
        body = response.json()
    except ValueError as exc:
        raise TransportError(
            path, f"HTTP {response.status_code} body is not JSON", response.status_code
        ) from exc
    if not isinstance(body, dict):
        raise TransportError(path, "answer is not a JSON object", response.status_code)
    return body


def fetch_token(
    session: requests.Session, api_base: str, corp_id: str, secret: str, timeout: Timeout
) -> tuple[str, int]:
    """Call ``gettoken`` once; answer (access_token, expires_in seconds). Callers cache it (see token_store)."""
    query = {"corpid": corp_id, "corpsecret": secret}
    body = _request(
        session, "GET", api_base, GETTOKEN, params=query, timeout=timeout, setup=GETTOKEN_SETUP_ERRCODES
    )
    return str(body["access_token"]), int(body.get("expires_in", 7200))


def _request(
    session: requests.Session,
    method: str,
    api_base: str,
    path: str,
    *,
    timeout: Timeout,
    setup: frozenset[int] = SETUP_ERRCODES,
    **kwargs: Any,
) -> dict[str, Any]:
    """One HTTP exchange with WeCom: the JSON answer, or a typed error for a fault or an errcode.

    The session's proxies are passed with the request: requests lets a request's own proxies win over the
    environment's (HTTP_PROXY, NO_PROXY), while a session's would lose to them."""
    url = f"{api_base}/cgi-bin/{path}"
    try:
        response = session.request(method, url, timeout=timeout, proxies=dict(session.proxies), **kwargs)
    except requests.RequestException as exc:
        # The exception text may include the URL with the token or secret: keep only its type.
        raise TransportError(path, type(exc).__name__) from None
    body = _decode(response, path)
    errcode = int(body.get("errcode", 0) or 0)
    if errcode:
        raise error_for(errcode, str(body.get("errmsg", "")), path, setup)
    return body


class WeComClient:
    """Calls ``$api_base/cgi-bin/<path>`` with the access token; raises typed errors for errcode != 0."""

    def __init__(
        self,
        api_base: str,
        tokens: TokenSource,
        session: requests.Session | None = None,
        reporter: SetupSink | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.tokens = tokens
        self.session = session or new_session()
        self.reporter = reporter

    def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        timeout: Timeout = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT),
        retry_on_token_error: bool = True,
        owned_object: bool = False,
    ) -> dict[str, Any]:
        """One API call; on a token errcode, invalidate the token and retry exactly once.

        ``retry_on_token_error=False`` raises the TokenError after invalidating, so the caller makes the
        second request itself: the welcome must extend its lease before *every* request it sends.
        ``owned_object``: the call changes an object another app may own, so 48002 is not a setup error.
        """
        request = _Call(method, path, json, params, files, timeout, owned_object)
        token = self.tokens.get(_total(timeout))
        try:
            return self._call_once(request, token)
        except TokenError:
            self.tokens.invalidate(token)
            if not retry_on_token_error:
                raise
            token = self.tokens.get(_total(timeout))
            return self._call_once(request, token)

    def post(
        self,
        path: str,
        body: dict[str, Any],
        timeout: Timeout | None = None,
        *,
        retry_on_token_error: bool = True,
        owned_object: bool = False,
    ) -> dict[str, Any]:
        return self.call(
            "POST",
            path,
            json=body,
            timeout=timeout or (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT),
            retry_on_token_error=retry_on_token_error,
            owned_object=owned_object,
        )

    def get(self, path: str, params: dict[str, Any], timeout: Timeout | None = None) -> dict[str, Any]:
        return self.call(
            "GET", path, params=params, timeout=timeout or (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
        )

    def upload(
        self, path: str, kind: str | None, filename: str, data: bytes, content_type: str, timeout: Timeout
    ) -> dict[str, Any]:
        """A multipart upload (``media/upload?type=kind`` or ``media/uploadimg``): WeCom reads the file from
        the form field ``media``. Same errcode and token handling as every other call; the bytes are resent
        as they are when the token had to be refreshed."""
        params = {"type": kind} if kind else None
        return self.call(
            "POST", path, params=params, files={"media": (filename, data, content_type)}, timeout=timeout
        )

    def paginate(
        self,
        path: str,
        body: dict[str, Any],
        items_key: str,
        *,
        cursor: str = "",
        timeout: Timeout | None = None,
        retry: Retry | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """Yield (items, next_cursor) page by page until WeCom answers an empty ``next_cursor``.

        The cursor is yielded with each page so a caller can checkpoint it and resume after a crash.
        An empty page with a cursor is followed too: WeCom may return one before the real end.
        ``retry`` wraps each page's call: the caller's policy for rate limits and transport faults (its
        budget, not the client's, decides how long to keep trying).
        """
        while True:
            request = {**body, "cursor": cursor}

            def fetch(request: dict[str, Any] = request) -> dict[str, Any]:
                return self.post(path, request, timeout=timeout)

            page = retry(fetch) if retry else fetch()
            cursor = str(page.get("next_cursor") or "")
            yield list(page.get(items_key) or []), cursor
            if not cursor:
                return

    def _call_once(self, call: _Call, token: str) -> dict[str, Any]:
        query = {**(call.params or {}), "access_token": token}
        setup = OWNED_OBJECT_SETUP_ERRCODES if call.owned_object else SETUP_ERRCODES
        try:
            return _request(
                self.session,
                call.method,
                self.api_base,
                call.path,
                params=query,
                json=call.json,
                files=call.files,
                timeout=call.timeout,
                setup=setup,
            )
        except SetupError as exc:
            if self.reporter is not None:
                self.reporter.report(exc)
            raise


@dataclass(frozen=True)
class _Call:
    """One API request as ``call`` was asked for it (sent again as it is after a token refresh)."""

    method: str
    path: str
    json: dict[str, Any] | None
    params: dict[str, Any] | None
    files: dict[str, Any] | None
    timeout: Timeout
    owned_object: bool


def _total(timeout: Timeout) -> float:
    return sum(timeout) if isinstance(timeout, tuple) else float(timeout)
