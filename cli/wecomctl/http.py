"""The admin API client: base URL, SigV4 signing, JSON in and out, and errors mapped to exit codes.

Why one module: every command goes through the same four concerns (where, signed or not, what came back, how
it failed), and keeping them here means a command never sees a credential, a socket error or a raw status.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from wecomctl import __version__

DEFAULT_TIMEOUT = 30.0
SERVICE = "execute-api"
# Exit codes: the contract scripts rely on.
EXIT_OK = 0
EXIT_API = 1  # the API answered with an error (4xx, or a 5xx)
EXIT_USAGE = 2  # bad arguments or files, no connection, no credentials
_KNOWN_ERROR_FIELDS = frozenset({"code", "message", "field", "errcode", "next_allowed_at"})
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class CliError(Exception):
    """A failure the operator must fix before retrying; ``exit_code`` is what the process exits with."""

    exit_code = EXIT_USAGE


class UsageError(CliError):
    """Bad arguments or unreadable input files (exit 2, like argparse's own errors)."""


class ConnectError(CliError):
    """The API could not be reached (exit 2: nothing was answered, so nothing is known to have happened)."""


class CredentialsError(CliError):
    """A remote API needs AWS credentials or a region and there are none (exit 2)."""


@dataclass(eq=False)
class ApiError(CliError):
    """An error answer of the admin API, with the fields of its error shape."""

    status: int
    code: str
    message: str
    field: str | None = None
    errcode: int | None = None
    next_allowed_at: Any = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    body: bytes = b""
    exit_code: int = EXIT_API

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """One line for stderr: code, status, then ``field: message`` and the WeCom errcode if any."""
        where = f"{self.field}: " if self.field else ""
        line = f"error: {self.code} (HTTP {self.status}): {where}{self.message}"
        extras = [f"WeCom errcode {self.errcode}"] if self.errcode is not None else []
        extras += [f"{key}: {value}" for key, value in self.details.items()]
        return line + (f" ({'; '.join(extras)})" if extras else "")


@dataclass
class Response:
    """A successful answer: status, headers and the body as sent (``--json`` prints it unchanged)."""

    status: int
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON; an empty body (204) is ``None``."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(
                self.status, "bad_response", "the API answered with a body that is not JSON"
            ) from exc

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def error_from_response(status: int, body: bytes) -> ApiError:
    """Map an error answer to ApiError, whatever produced it.

    The admin function answers ``{"error": {...}}``; API Gateway itself answers ``{"message": "..."}`` (403 for
    a missing IAM permission, 404 for an undeclared route), and a proxy may answer HTML. All three must give
    the operator a readable line, so fall back step by step.
    """
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict):
        errcode = error.get("errcode")
        return ApiError(
            status=status,
            code=str(error.get("code") or f"http_{status}"),
            message=str(error.get("message") or "no message"),
            field=error.get("field"),
            errcode=errcode if isinstance(errcode, int) else None,
            next_allowed_at=error.get("next_allowed_at"),
            details={k: v for k, v in error.items() if k not in _KNOWN_ERROR_FIELDS},
            body=body,
        )
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return ApiError(status, f"http_{status}", doc["message"], body=body)
    text = body.decode("utf-8", errors="replace").strip()
    return ApiError(status, f"http_{status}", text[:200] or "no message", body=body)


# ------------------------------------------------------------------------------------------- signing
def is_loopback(url: str) -> bool:
    """True for the local stack: localhost or a loopback address, which is served unsigned."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_region(url: str, explicit: str | None, botocore_session: Any) -> str:
    """``--region``, else the region in an execute-api host name, else the AWS config/env region.

    The host name comes before the config because a signature for the wrong region is refused by API
    Gateway with a message that does not say which region it wanted.
    """
    if explicit:
        return explicit
    match = _EXECUTE_API_HOST.search(urlsplit(url).hostname or "")
    if match:
        return match.group(1)
    region = botocore_session.get_config_variable("region") or os.environ.get("AWS_REGION")
    if not region:
        raise CredentialsError(
            "no AWS region for signing: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
        )
    return str(region)


class SigV4Signer:
    """Signs requests for API Gateway (service ``execute-api``) with the caller's AWS credentials.

    Credentials come from botocore's default chain (env, profile, SSO, instance role) and are frozen once, so a
    command's requests are signed consistently; they are never printed or logged.
    """

    def __init__(self, url: str, region: str | None = None) -> None:
        import botocore.session  # imported here: the local (unsigned) path does not pay for botocore
        from botocore.exceptions import BotoCoreError

        session = botocore.session.get_session()
        try:
            credentials = session.get_credentials()
            self.region = resolve_region(url, region, session)
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
        except BotoCoreError as exc:
            raise CredentialsError(f"cannot load AWS credentials: {exc}") from exc
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise CredentialsError(
                f"{url} is not a loopback address, so requests must be SigV4-signed, but no AWS credentials "
                "were found (set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY)"
            )
        self._credentials = frozen

    def sign(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        """The headers to send: the given ones plus X-Amz-Date, Authorization (and the session token)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
        SigV4Auth(self._credentials, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())


# -------------------------------------------------------------------------------------------- client
def encode_query(query: dict[str, Any] | None) -> str:
    """Query string in SigV4's canonical encoding (RFC 3986), so the signed and the sent URL are the same."""
    pairs = [(k, str(v)) for k, v in (query or {}).items() if v is not None and v != ""]
    return urlencode(pairs, quote_via=quote, safe="-_.~")


class ApiClient:
    """The admin API at ``base_url``; signs when the URL is not loopback (see ``SigV4Signer``)."""

    def __init__(
        self,
        base_url: str,
        *,
        region: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--api must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.signer = None if is_loopback(base_url) else SigV4Signer(base_url, region)
        self._session = session or requests.Session()

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        """Absolute URL of an API path; path segments from operators are quoted, so an id cannot add one."""
        encoded = encode_query(query)
        return f"{self.base_url}{path}" + (f"?{encoded}" if encoded else "")

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request; answers a Response for 2xx and raises ApiError or ConnectError otherwise."""
        url = self.url(path, query)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent = {"Accept": "application/json", "User-Agent": f"wecomctl/{__version__}", **(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        if self.signer is not None:
            sent = self.signer.sign(method, url, sent, data)
        try:
            answer = self._session.request(method, url, data=data, headers=sent, timeout=self.timeout)
        except requests.Timeout as exc:
            raise ConnectError(f"no answer from {self.base_url} within {self.timeout:g} s") from exc
        except requests.RequestException as exc:
            hint = " (is `make run` running?)" if self.signer is None else ""
            raise ConnectError(
                f"cannot reach the admin API at {self.base_url}{hint}: {_reason(exc)}"
            ) from exc
        if answer.status_code >= 400:
            raise error_from_response(answer.status_code, answer.content)
        return Response(answer.status_code, dict(answer.headers), answer.content)

    def get(self, path: str, **query: Any) -> Response:
        return self.request("GET", path, query=query)

    def pages(self, path: str, query: dict[str, Any], follow: bool) -> Iterator[Response]:
        """Each page of a ``cursor``-paginated list, following the cursor only when ``follow``."""
        cursor = query.get("cursor")
        while True:
            response = self.request("GET", path, query={**query, "cursor": cursor})
            yield response
            cursor = (response.json() or {}).get("cursor")
            if not follow or not cursor:
                return


def segment(value: str) -> str:
    """One path segment from operator input (an id), quoted so '/' or '?' cannot change the route."""
    return quote(value, safe="")


def _reason(exc: Exception) -> str:
    """The useful part of a connection failure (``[Errno 111] Connection refused``), not urllib3's repr."""
    text = str(exc)
    found = _ERRNO.search(text)
    if found:
        return found.group(0)
    return text if len(text) <= 200 else text[:200] + "…"
