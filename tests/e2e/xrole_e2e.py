"""Shared fixture of the end-to-end tests: a real `xrole serve` process driven over HTTP.

Every test module runs as `python3 MODULE.py --xrole PATH/TO/xrole [unittest arguments]`.
`Server` starts the broker on a free loopback port with a temporary data directory, reads the
admin token, and can stop it (SIGTERM), kill it (SIGKILL) and start it again on the same data
directory. `Client` speaks the JSON API; `ServerTestCase` gives each test class one server
loaded with the example roles and checks the audit chain when the class is done.
"""

import atexit
import base64
import ctypes
import glob
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_ROLES = sorted(glob.glob(os.path.join(SOURCE_DIR, "examples", "roles", "*.yaml")))

# Set by main() from --xrole (or the XROLE environment variable).
XROLE = os.environ.get("XROLE", "")

START_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 30


_live_servers = []


def _kill_live_servers():
    for server in list(_live_servers):
        server.kill()


atexit.register(_kill_live_servers)


def _die_with_parent():
    """In the child before exec: SIGKILL the server if the thread that started it dies
    (Linux), so a test killed by a timeout leaves no server behind. Servers are started from
    the main thread only."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass



# ---- the real AWS clients installed on this machine ----

def system_path():
    """The plain system bin directories (no pyenv), as `getconf PATH` prints them."""
    try:
        out = subprocess.run(["getconf", "PATH"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except OSError:
        pass
    return "/usr/bin:/bin"


def _works(argv, path):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, PATH=path))
        return done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def installed_aws_clients():
    """Every distinct installed AWS client: [(name, kind, executable, PATH)], kind "cli" or
    "boto3". The Debian packages' clients are found on the plain system PATH; a newer client
    on the default PATH (pyenv) is listed too when it is another program, unless
    XROLE_E2E_AWS_CLIENTS=debian asks for the Debian packages' clients only (the sanitizer
    run, where each client adds minutes and no server path)."""
    found = []
    plain = system_path()
    default_path = os.environ.get("PATH", "")
    boto3_check = ["-c", "import boto3"]
    system = {}
    for kind, program, check in (("cli", "aws", ["--version"]), ("boto3", "python3", boto3_check)):
        executable = shutil.which(program, path=plain)
        if executable and _works([executable] + check, plain):
            found.append(("debian-" + ("aws-cli" if kind == "cli" else "boto3"), kind,
                          executable, plain))
            system[kind] = executable
    if os.environ.get("XROLE_E2E_AWS_CLIENTS") == "debian":
        return found
    for kind, program, check in (("cli", "aws", ["--version"]), ("boto3", "python3", boto3_check)):
        executable = shutil.which(program, path=default_path)
        if not executable or (kind in system and
                              os.path.realpath(executable) == os.path.realpath(system[kind])):
            continue
        if _works([executable] + check, default_path):
            found.append(("default-" + ("aws-cli" if kind == "cli" else "boto3"), kind,
                          executable, default_path))
    return found


class ServerStartError(Exception):
    """The server exited or did not print its address in time."""

    def __init__(self, message, returncode=None, stderr=""):
        super().__init__(message + ("\n" + stderr if stderr else ""))
        self.returncode = returncode
        self.stderr = stderr


class Response:
    """Status, headers and body of one HTTP exchange; `json` is the parsed body (or None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error_code(self):
        """`error.code` of an error body, or `error.code` of a decision, or None."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None

    def __repr__(self):
        return "Response(%d, %s)" % (self.status, self.body[:600])


class Client:
    """One keep-alive connection to the server. Not shared between threads."""

    def __init__(self, port, token=None, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.token = token
        self._connection = None

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def with_token(self, token):
        return Client(self.port, token, self.host)

    def request(self, method, path, body=None, token=None, raw=None, headers=None, retry=True):
        """Sends one request. `body` is sent as JSON, `raw` (str or bytes) as is. `token`
        overrides the client's bearer token; pass "" for no Authorization header. A request
        that fails on a stale keep-alive connection is retried once on a new one when `retry`
        (never for the crash test, where an unanswered request must stay unanswered)."""
        bearer = self.token if token is None else token
        data = None
        if raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
        elif body is not None:
            data = json.dumps(body).encode()
        send_headers = {"Content-Type": "application/json"}
        if bearer:
            send_headers["Authorization"] = "Bearer " + bearer
        if headers:
            send_headers.update(headers)
        for attempt in (0, 1):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            try:
                self._connection.request(method, path, body=data, headers=send_headers)
                reply = self._connection.getresponse()
                payload = reply.read().decode("utf-8", "replace")
                result = Response(reply.status, dict(reply.getheaders()), payload)
                if reply.getheader("Connection", "").lower() == "close":
                    self.close()
                return result
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 1 or not retry:
                    raise
            except Exception:
                self.close()
                raise
        raise AssertionError("unreachable")

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    # ---- the API, by operation ----

    def apply(self, text, query=""):
        return self.request("POST", "/v1/apply" + query, raw=text,
                            headers={"Content-Type": "application/yaml"})

    def start_run(self, workflow, agent=None, on_behalf_of=None, tags=None, ttl=None):
        body = {"workflow": workflow}
        if agent is not None:
            body["agent"] = agent
        if on_behalf_of is not None:
            body["onBehalfOf"] = on_behalf_of
        if tags is not None:
            body["tags"] = tags
        if ttl is not None:
            body["ttlSeconds"] = ttl
        return self.post("/v1/runs", body)

    def assume(self, role, run_id, **fields):
        body = {"role": role, "runId": run_id}
        body.update(fields)
        return self.post("/v1/sessions", body)

    def authorize(self, session_token, action, resource="", context=None, **kwargs):
        body = {"sessionToken": session_token, "action": action, "resource": resource}
        if context is not None:
            body["context"] = context
        return self.post("/v1/authorize", body, **kwargs)

    def revoke(self, **fields):
        return self.post("/v1/revoke", fields)

    def audit_records(self):
        """Every audit record, in order (pages through GET /v1/audit)."""
        records = []
        after = 0
        while True:
            page = self.get("/v1/audit?after=%d&limit=1000" % after)
            if page.status != 200:
                raise AssertionError("GET /v1/audit: %r" % page)
            records.extend(page.json["records"])
            if not page.json["records"]:
                return records
            after = page.json["next"]

    def verify_audit(self):
        return self.get("/v1/audit/verify")


class Server:
    """One `xrole serve` process on a loopback port, with its own data directory."""

    def __init__(self, data_dir=None, load=None, min_session_seconds=1, extra_args=()):
        self._owns_data = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="xrole-e2e-data-")
        self._log_dir = tempfile.mkdtemp(prefix="xrole-e2e-log-")
        self.load = EXAMPLE_ROLES if load is None else load
        self.min_session_seconds = min_session_seconds
        self.extra_args = list(extra_args)
        self.process = None
        self.port = None
        self.admin_token = None
        self.stdout_lines = []
        self._starts = 0
        self._clients = []

    # ---- lifecycle ----

    def command(self, load=True):
        if not XROLE:
            raise RuntimeError("no xrole binary: pass --xrole PATH")
        args = [XROLE, "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0",
                "--min-session-seconds", str(self.min_session_seconds)]
        if load and self.load:
            args += ["--load"] + list(self.load)
        return args + self.extra_args

    def start(self, load=True):
        """Starts the server; returns self. Raises ServerStartError if it exits first."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("server already running")
        self._starts += 1
        if getattr(self, "_stderr_file", None) is not None:
            self._stderr_file.close()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        stderr_path = os.path.join(self._log_dir, "stderr.%d" % self._starts)
        self._stderr_file = open(stderr_path, "w+")
        self.process = subprocess.Popen(self.command(load), stdout=subprocess.PIPE,
                                        stderr=self._stderr_file, text=True,
                                        preexec_fn=_die_with_parent)
        if self not in _live_servers:
            _live_servers.append(self)
        lines = queue.Queue()

        def drain(stream, sink, collected):
            try:
                for line in stream:
                    collected.append(line.rstrip("\n"))
                    sink.put(line)
            except (OSError, ValueError):
                pass  # closed by cleanup
            sink.put(None)

        threading.Thread(target=drain, args=(self.process.stdout, lines, self.stdout_lines),
                         daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise ServerStartError("xrole serve did not start in time",
                                       stderr=self.stderr())
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait()
                raise ServerStartError("xrole serve exited with status %d" % code, code,
                                       self.stderr())
            marker = "listening on http://127.0.0.1:"
            if marker in line:
                self.port = int(line.split(marker, 1)[1].split()[0].rstrip("/"))
                break
        with open(os.path.join(self.data_dir, "admin.token")) as token_file:
            self.admin_token = token_file.read().strip()
        return self

    def stderr(self):
        try:
            self._stderr_file.flush()
            self._stderr_file.seek(0)
            return self._stderr_file.read()
        except (AttributeError, ValueError):
            return ""

    def _close_clients(self):
        for client in self._clients:
            client.close()
        self._clients = []

    def stop(self, timeout=20):
        """SIGTERM and wait: the broker commits what is queued and writes a final checkpoint.
        Returns the exit status."""
        self._close_clients()
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("xrole serve did not stop within %ds of SIGTERM" % timeout)

    def kill(self):
        """SIGKILL: no shutdown work at all."""
        self._close_clients()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart(self, load=False):
        """Stops (gracefully) if running and starts again on the same data directory."""
        self.stop()
        return self.start(load=load)

    def cleanup(self):
        self.kill()
        if self in _live_servers:
            _live_servers.remove(self)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if getattr(self, "_stderr_file", None) is not None:
            self._stderr_file.close()
        if self._owns_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self._log_dir, ignore_errors=True)

    # ---- clients ----

    def client(self, token=None):
        client = Client(self.port, token)
        self._clients.append(client)
        return client

    def admin(self):
        return self.client(self.admin_token)

    def issue_key(self, kind, name):
        """Issues an access key for agent or human `name`; returns its bearer token."""
        reply = self.admin().post("/v1/%ss/%s/credentials" % (kind, name))
        if reply.status != 201:
            raise AssertionError("issuing a key for %s %s: %r" % (kind, name, reply))
        return reply.json["bearerToken"]

    def agent(self, name):
        return self.client(self.issue_key("agent", name))

    def human(self, name):
        return self.client(self.issue_key("human", name))


# ---- tokens ----

def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def token_claims(token):
    """The claims of an `xrt1.<payload>.<signature>` token (not verified)."""
    prefix, payload, _ = token.split(".")
    assert prefix == "xrt1", token
    return json.loads(b64url_decode(payload))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- test base ----

class ServerTestCase(unittest.TestCase):
    """One server per test class, loaded with the example roles. When the class is done the
    audit chain must still verify."""

    server = None

    @classmethod
    def setUpClass(cls):
        server = Server()
        try:
            server.start()
        except Exception:
            server.cleanup()
            raise
        cls.server = server
        cls.admin = server.admin()

    @classmethod
    def tearDownClass(cls):
        if cls.server is None:
            return
        try:
            if cls.server.process is not None and cls.server.process.poll() is None:
                verify = cls.server.admin().verify_audit()
                if verify.status != 200 or not verify.json.get("ok"):
                    raise AssertionError("audit chain does not verify at the end: %r" % verify)
                code = cls.server.stop()
                if code != 0:
                    raise AssertionError("xrole serve exited with %r: %s" %
                                         (code, cls.server.stderr()))
        finally:
            cls.server.cleanup()

    # ---- assertions ----

    def assertStatus(self, response, status, code=None, message_has=None):
        self.assertEqual(response.status, status, response)
        if code is not None:
            self.assertEqual(response.error_code, code, response)
        if message_has is not None:
            self.assertIn(message_has, response.json["error"]["message"], response)
        return response

    def assertDecision(self, response, decision):
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json["decision"], decision, response)
        self.assertNotIn("error", response.json, response)
        self.assertGreater(response.json["auditId"], 0, response)
        return response

    def assertRejected(self, response, code):
        """An authorize answered 401 with decision error `code`, denied and audited."""
        self.assertEqual(response.status, 401, response)
        self.assertEqual(response.json["error"]["code"], code, response)
        self.assertEqual(response.json["decision"], "ImplicitlyDenied", response)
        self.assertGreater(response.json["auditId"], 0, response)
        return response

    # ---- common flows ----

    def start_session(self, agent_client, workflow, role, run_fields=None, starter=None,
                      **assume_fields):
        """Starts a run (as `starter`, by default the agent) and assumes `role` in it as the
        agent; returns (run, session) JSON."""
        run = (starter or agent_client).start_run(workflow, **(run_fields or {}))
        self.assertEqual(run.status, 201, run)
        session = agent_client.assume(role, run.json["runId"], **assume_fields)
        self.assertEqual(session.status, 201, session)
        return run.json, session.json


def main():
    """Runs the calling module's tests; takes `--xrole PATH` off the command line first."""
    global XROLE
    argv = list(sys.argv)
    if "--xrole" in argv:
        i = argv.index("--xrole")
        XROLE = argv[i + 1]
        del argv[i:i + 2]
    if not XROLE or not os.access(XROLE, os.X_OK):
        sys.stderr.write("usage: %s --xrole PATH/TO/xrole [unittest options]\n" % argv[0])
        sys.exit(2)
    XROLE = os.path.abspath(XROLE)
    unittest.main(argv=argv, verbosity=2)
