"""Where GetSecretValue goes, and with which credentials, from Lambda's environment alone.

Why: the lighter reader (``get_secret``) must reach exactly the endpoint botocore would, or step aside. It
answers a ``Target`` for what it knows to be right, and ``None`` otherwise, so the caller uses botocore:
- the endpoint: ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, else ``AWS_ENDPOINT_URL`` (a VPC endpoint, a FIPS host, a
  local server; AWS「Service-specific endpoints」
  https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html), else ``https://secretsmanager.<region>.<suffix>``: ``amazonaws.com.cn`` in ``cn-*`` (AWS China「Endpoints and
  ARNs for Amazon Web Services in China」https://docs.amazonaws.cn/en_us/general/latest/gr/rande.html),
  ``amazonaws.com`` in the commercial and GovCloud regions. Other partitions, FIPS or dual-stack switches and
  HTTPS proxies without an explicit endpoint: ``None``.
- the trusted certificates: the system's, or the file ``AWS_CA_BUNDLE`` names (as botocore);
- the credentials: Lambda's ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``. Under
  SnapStart Lambda hands out container credentials instead (AWS「Activating and managing Lambda SnapStart」,
  https://docs.aws.amazon.com/lambda/latest/dg/snapstart-activate.html): ``None``, and botocore resolves them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from wecom_bundle.secrets_manager.sigv4 import Credentials, Scope

SERVICE = "secretsmanager"
_REGION = re.compile(r"^(?:(cn)|us-gov|[a-z]{2})-[a-z]+-\d{1,2}$")
_TRUE = ("true", "1", "yes")


@dataclass(frozen=True, repr=False)
class Target:
    """One endpoint and the credentials to sign for it (``repr`` hidden: it holds the secret key)."""

    scheme: str
    host: str  # the Host header: the name, and the port when it is not the scheme's default
    port: int | None
    path: str
    scope: Scope
    credentials: Credentials
    ca_bundle: str = ""  # AWS_CA_BUNDLE: the certificates to trust instead of the system's

    def __repr__(self) -> str:
        return f"Target({self.scheme}://{self.host}{self.path}, {self.scope.region})"


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in _TRUE


def _override(environ: Mapping[str, str]) -> str:
    if _flag(environ, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        return ""
    return environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or environ.get("AWS_ENDPOINT_URL") or ""


def _regional(environ: Mapping[str, str], region: str) -> str:
    """The public regional endpoint, or "" when botocore's rules are needed (see the module docstring)."""
    switches = ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")
    proxied = any(environ.get(name) for name in ("HTTPS_PROXY", "https_proxy"))
    matched = _REGION.match(region)
    if matched is None or proxied or any(_flag(environ, name) for name in switches):
        return ""
    suffix = "amazonaws.com.cn" if matched.group(1) else "amazonaws.com"
    return f"https://{SERVICE}.{region}.{suffix}"


def _credentials(environ: Mapping[str, str]) -> Credentials | None:
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return Credentials(key, secret, environ.get("AWS_SESSION_TOKEN", ""))


def resolve(environ: Mapping[str, str], region: str) -> Target | None:
    """The target for GetSecretValue in ``region``, or ``None`` when botocore should make the call."""
    credentials = _credentials(environ)
    url = _override(environ) or _regional(environ, region)
    if credentials is None or not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return Target(
        scheme=parts.scheme,
        host=parts.netloc.removesuffix(f":{default}") if port == default else parts.netloc,
        port=port,
        path=parts.path or "/",
        scope=Scope(region, SERVICE),
        credentials=credentials,
        ca_bundle=environ.get("AWS_CA_BUNDLE", ""),
    )
