"""Cold start as deployed next to cold start as run locally: first GET and first welcome, in one run.

Method: one local stack (moto server for DynamoDB and Secrets Manager, WeCom simulator, gateway for the
admin API that stores a default welcome rule). The secret holding the four WeCom settings is created in the
moto server. Each sample is a fresh ``python`` process that imports the callback handler and answers one
request: a GET URL verification or an encrypted add-contact POST whose welcome code the simulator issued
(the welcome is sent to the simulator before the handler returns). Time is taken inside the child, from the
first line of its script (before ``import app``) to the handler's return: interpreter start-up is the same
for every configuration and not ours to shrink. Configurations, interleaved sample by sample so a busy
machine slows them alike:

- ``env``: the four settings in the environment (the local stack's way);
- ``extension``: ``WECOM_SECRET_ID`` read through the Parameters and Secrets Lambda Extension's endpoint,
  played by ``local.secrets_extension`` (its upstream: the moto server via
  ``AWS_ENDPOINT_URL_SECRETS_MANAGER``); what a deploy with ``SecretsExtensionLayerArn`` runs;
- ``direct``: ``WECOM_SECRET_ID`` read with one hand-signed GetSecretValue (``wecom_bundle.secrets_manager``)
  from the moto server over HTTPS, as deployed (``AWS_ENDPOINT_URL_SECRETS_MANAGER``: ``local.tls_proxy`` in
  front of the moto server; ``AWS_CA_BUNDLE``: the system's store plus its certificate, so loading it costs
  what the system store costs), Lambda's credentials in the environment; a deploy without the extension and
  without SnapStart (China's);
- ``botocore``: the same read when the credentials are not in the environment (SnapStart's container
  credentials, played here by a shared credentials file): the layer's botocore session makes the call, over
  the same HTTPS endpoint;
- ``snapstart``: the botocore path as the default template deploys it, with SnapStart: the child first
  runs the init a snapshot holds (``import app``, ``snapstart.before_snapshot``), then ``after_restore``, and
  only then starts the clock. Lambda's own restore time (not measurable here) comes on top.

The first sample of each configuration is discarded (it writes .pyc files). Medians are reported.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from local.events import add_contact_fields, callback_get_event, callback_post_event
from local.secrets_extension import start_secrets_extension
from local.settings import DEV_DEFAULTS
from local.stack import StackHandle, start_stack
from local.tls_proxy import TlsProxyHandle, start_tls_proxy
from local.wecom_sim.endpoints_welcome import issue_welcome_code

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = 10
SESSION_TOKEN = "bench-session-token"
CONFIGS = ("env", "extension", "direct", "botocore", "snapstart")
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
SECRET_NAMES = ("WECOM_CORP_ID", "WECOM_CORP_SECRET", "WECOM_CALLBACK_TOKEN", "WECOM_ENCODING_AES_KEY")
SECRET_KEYS = ("corp_id", "corp_secret", "callback_token", "encoding_aes_key")

_CHILD = """
import time
started = time.perf_counter()
import json, sys
sys.path[:0] = [{callback!r}, {layer!r}]
event = json.loads(sys.stdin.read())
snapstart = {snapstart!r}
if snapstart:
    import app
    from wecom_bundle import snapstart as hooks
    hooks.before_snapshot()
    hooks.after_restore()
    started = time.perf_counter()
import app


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "CallbackFunction", 1024, "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:CallbackFunction"

    def get_remaining_time_in_millis(self):
        return 25000


answer = app.lambda_handler(event, Context())
elapsed = (time.perf_counter() - started) * 1000
print(json.dumps({{"ms": elapsed, "status": answer["statusCode"], "body": answer["body"]}}))
"""


def _child_code(snapstart: bool) -> str:
    return _CHILD.format(
        callback=str(ROOT / "functions/callback"), layer=str(ROOT / "layers/shared"), snapstart=snapstart
    )


def _environments(
    stack: StackHandle, secret_arn: str, extension_port: int, tls: TlsProxyHandle, credentials_file: Path
) -> dict[str, dict[str, str]]:
    spec = stack.template.functions["CallbackFunction"]
    base = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES and k != "PYTHONPATH"}
    base |= {**spec.environment, "AWS_SESSION_TOKEN": SESSION_TOKEN, "POWERTOOLS_METRICS_DISABLED": "true"}
    base |= {"DYNAMODB_ENDPOINT": stack.dynamodb_endpoint, "WECOM_API_BASE": stack.wecom_api_base}
    base |= {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}  # as Lambda sets it; SnapStart's below
    base.pop("WECOM_SECRET_ID", None)
    deployed = {**base, "WECOM_SECRET_ID": secret_arn}
    endpoint = {"AWS_ENDPOINT_URL_SECRETS_MANAGER": tls.endpoint, "AWS_CA_BUNDLE": str(tls.ca_bundle)}
    credentials_file.write_text(
        "[default]\n" + "".join(f"{name.lower()} = {base[name]}\n" for name in CREDENTIALS if base.get(name))
    )
    container = {k: v for k, v in deployed.items() if k not in CREDENTIALS}
    container |= {**endpoint, "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file)}
    return {
        "env": {**base, **{name: DEV_DEFAULTS[name] for name in SECRET_NAMES}},
        "extension": {**deployed, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension_port)},
        "direct": {**deployed, **endpoint},
        "botocore": container,
        "snapstart": container | {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"},
    }


def _post_event(stack: StackHandle, n: int) -> tuple[str, dict[str, Any]]:
    env = dict(DEV_DEFAULTS)
    ext, user, created = f"wmCold{n:05d}", f"member{n % 7}", int(time.time())
    with stack.simulator.state.lock:
        code = issue_welcome_code(stack.simulator.state, user, ext, created)
    fields = add_contact_fields(
        env, userid=user, external_userid=ext, state="cold", welcome_code=code, create_time=created
    )
    return code, callback_post_event(env, fields)


def _run(code: str, environ: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(event), env=environ, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(stack: StackHandle, environments: dict[str, dict[str, str]], samples: int) -> dict[str, Any]:
    times: dict[tuple[str, str], list[float]] = {(c, k): [] for c in CONFIGS for k in ("get", "welcome")}
    codes: list[str] = []
    n = 0
    for _ in range(samples + 1):
        for config in CONFIGS:
            code = _child_code(config == "snapstart")
            got = _run(code, environments[config], callback_get_event(dict(DEV_DEFAULTS), echo="cold"))
            assert got["status"] == 200 and got["body"] == "cold", got
            times[(config, "get")].append(got["ms"])
            welcome_code, post = _post_event(stack, n := n + 1)
            sent = _run(code, environments[config], post)
            assert sent["status"] == 200, sent
            times[(config, "welcome")].append(sent["ms"])
            codes.append(welcome_code)
    delivered = {w["welcome_code"] for w in stack.simulator.state.delivered_welcomes()}
    result: dict[str, Any] = {"cold_samples": samples, "cold_welcomes_delivered": len(delivered & set(codes))}
    result["cold_welcomes_sent"] = len(codes)
    for (config, kind), values in times.items():
        result[f"cold_{config}_first_{kind}_ms_p50"] = statistics.median(values[1:])
    for config in CONFIGS[1:]:
        for kind in ("get", "welcome"):
            ratio = result[f"cold_{config}_first_{kind}_ms_p50"] / result[f"cold_env_first_{kind}_ms_p50"]
            result[f"cold_{config}_over_env_first_{kind}"] = round(ratio, 2)
    return result


def run(samples: int = SAMPLES) -> dict[str, Any]:
    stack = start_stack(api_port=0)
    try:
        answer = requests.put(
            f"{stack.api_url}/admin/welcome-rules/cold-default",
            json={"priority": 1, "match": {}, "text": {"content": "Welcome!"}},
            timeout=10,
        )
        answer.raise_for_status()
        secrets = boto3.client(
            "secretsmanager", region_name=os.environ["AWS_REGION"], endpoint_url=stack.dynamodb_endpoint
        )
        doc = {key: DEV_DEFAULTS[name] for name, key in zip(SECRET_NAMES, SECRET_KEYS, strict=True)}
        arn = secrets.create_secret(Name=f"wecom/bench-{time.time_ns()}", SecretString=json.dumps(doc))["ARN"]
        extension = start_secrets_extension(secrets, SESSION_TOKEN)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                tls = start_tls_proxy(stack.dynamodb_endpoint, Path(tmp))
                try:
                    environments = _environments(stack, arn, extension.port, tls, Path(tmp) / "credentials")
                    return _measure(stack, environments, samples)
                finally:
                    tls.stop()
        finally:
            extension.stop()
    finally:
        stack.stop()
