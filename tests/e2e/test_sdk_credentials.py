"""SDK credential providers with the real, unmodified AWS clients (docs/sdk-credentials.md).

Two ways for an SDK to get role-session credentials from `xrole serve` without any code:

- `credential_process = xrole credential-process --role R --run RUN --server URL` in a profile
  of a temporary AWS_CONFIG_FILE (the agent's key in XROLE_TOKEN);
- AWS_CONTAINER_CREDENTIALS_FULL_URI pointing at /v1/credentials/container with the agent's
  key in AWS_CONTAINER_AUTHORIZATION_TOKEN.

Each installed client is exercised: Debian's aws-cli 2.9.x and boto3 (the system bin
directories from `getconf PATH`), and the newer `aws` / `python3` boto3 on PATH when they are
different installations; an absent client is skipped. The credentials are used for
`sts get-caller-identity` against the broker's STS endpoint (when the server answers STS at
`POST /`), and checked with POST /v1/authorize. The audit log counts the credential fetches: a
process making several SDK calls fetches once, several processes share one session, and an
ended run makes every provider fail with the reason. Nothing of the user's ~/.aws is read:
config and credentials files are temporary, every AWS_* variable is dropped.
"""

import calendar
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import xrole_e2e
from xrole_e2e import ServerTestCase

ACCOUNT = "111122223333"
REGION = "us-east-1"
AGENT = "sdk-agent"
OTHER_AGENT = "sdk-other"
ROLE = "sdk-reader"
WORKFLOW = "sdk-flow"
OBJECT = "arn:aws:s3:::sdk-test-bucket/report.csv"
CLIENT_TIMEOUT_S = 120
SDK_CALLS = 5

FIXTURE = """
apiVersion: xrole/v1
kind: Agent
metadata:
  name: sdk-agent
  owner: test@example.com
spec:
  sponsor: alice
  description: Agent whose AWS SDKs get credentials from xrole.
---
apiVersion: xrole/v1
kind: Agent
metadata:
  name: sdk-other
  owner: test@example.com
spec:
  sponsor: alice
  description: Another agent, with no business in sdk-agent's runs.
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: sdk-reader
  owner: test@example.com
spec:
  account: "111122223333"
  description: Reads one test bucket.
  maxSessionDuration: 2h
  trust:
    agents: [sdk-agent, sdk-other]
    workflows: [sdk-flow]
  permissions:
    - Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: [s3:GetObject, s3:ListBucket]
          Resource: ["arn:aws:s3:::sdk-test-bucket", "arn:aws:s3:::sdk-test-bucket/*"]
---
apiVersion: xrole/v1
kind: Workflow
metadata:
  name: sdk-flow
  owner: test@example.com
spec:
  description: Everything the SDK provider tests assume.
  roles: [sdk-reader]
  maxRunDuration: 2h
"""

# One process, several SDK calls: prints what it saw as one JSON line.
BOTO3_SCRIPT = r"""
import json, sys
import boto3
endpoint, calls, use_sts = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
try:
    session = boto3.session.Session()
    client = session.client("sts", endpoint_url=endpoint, region_name="us-east-1")
    arns = []
    for _ in range(calls):
        if use_sts:
            arns.append(client.get_caller_identity()["Arn"])
        else:
            session.get_credentials().get_frozen_credentials()
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials()
    print(json.dumps({"ok": True, "arns": arns, "method": credentials.method,
                      "accessKeyId": frozen.access_key, "token": frozen.token}))
except Exception as e:
    print(json.dumps({"ok": False, "error": "%s: %s" % (type(e).__name__, e)}))
    sys.exit(1)
"""


class SdkCredentialsTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        applied = cls.admin.apply(FIXTURE)
        if applied.status != 200:
            raise AssertionError("applying the fixture: %r" % applied)
        cls.agent_key = cls.server.issue_key("agent", AGENT)
        cls.agent = cls.server.client(cls.agent_key)
        cls.endpoint = "http://127.0.0.1:%d" % cls.server.port
        cls.work_dir = tempfile.mkdtemp(prefix="xrole-e2e-sdk-")
        cls.clients = xrole_e2e.installed_aws_clients()
        cls.sts_available = cls._answers_sts()
        sys.stderr.write("AWS clients: %s; STS endpoint: %s\n" % (
            ", ".join(name for name, _, _, _ in cls.clients) or "none",
            "yes" if cls.sts_available else "no (credentials checked with /v1/authorize)"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(getattr(cls, "work_dir", ""), ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def _answers_sts(cls):
        """True once the server answers the STS Query API at POST / (with STS's XML, here an
        error for the unsigned call)."""
        request = urllib.request.Request(
            cls.endpoint + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                content_type = reply.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            content_type = error.headers.get("Content-Type", "")
        return "xml" in content_type

    # ---- helpers ----

    def new_run(self, ttl=None):
        run = self.agent.start_run(WORKFLOW, ttl=ttl)
        self.assertEqual(run.status, 201, run)
        return run.json["runId"]

    def fetches(self, run_id):
        """(sessions issued, sessions handed out again, distinct session ids) for `run_id`,
        from the audit log."""
        issued = reused = 0
        sessions = set()
        for record in self.admin.audit_records():
            event = record.get("event") or {}
            if event.get("run") != run_id:
                continue
            if record["type"] == "session.assume" and event.get("outcome") == "ok":
                issued += 1
            elif record["type"] == "session.reuse":
                reused += 1
            else:
                continue
            sessions.add((event.get("actor") or {}).get("session"))
        return issued, reused, sessions

    def environment(self, path, extra):
        """A client process's environment: no AWS_* or XROLE_* variable inherited, temporary
        (empty) config and credentials files unless `extra` names others, a region."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "XROLE_")) and k != "BOTO_CONFIG"}
        empty_config = os.path.join(self.work_dir, "empty-config")
        empty_credentials = os.path.join(self.work_dir, "empty-credentials")
        for name in (empty_config, empty_credentials):
            open(name, "a").close()
        env.update({"PATH": path, "AWS_DEFAULT_REGION": REGION,
                    "AWS_CONFIG_FILE": empty_config,
                    "AWS_SHARED_CREDENTIALS_FILE": empty_credentials,
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
        env.update(extra)
        return env

    def process_provider_env(self, path, run_id, name):
        """A profile whose credential_process is `xrole credential-process` for `run_id`."""
        config = os.path.join(self.work_dir, "config-%s-%s" % (name, run_id))
        command = " ".join(shlex.quote(part) for part in [
            xrole_e2e.XROLE, "credential-process", "--role", ROLE, "--run", run_id,
            "--server", self.endpoint])
        with open(config, "w") as out:
            out.write("[profile xrole]\ncredential_process = %s\nregion = %s\n" %
                      (command, REGION))
        return self.environment(path, {"AWS_CONFIG_FILE": config, "AWS_PROFILE": "xrole",
                                       "XROLE_TOKEN": self.agent_key})

    def container_provider_env(self, path, run_id, token=None):
        uri = "%s/v1/credentials/container?role=%s&runId=%s" % (self.endpoint, ROLE, run_id)
        return self.environment(path, {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": uri,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token or self.agent_key})

    def run_cli(self, executable, env):
        return subprocess.run([executable, "--endpoint-url", self.endpoint, "--output", "json",
                               "sts", "get-caller-identity"],
                              capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, env=env)

    def run_boto3(self, python, env, calls=SDK_CALLS):
        done = subprocess.run([python, "-c", BOTO3_SCRIPT, self.endpoint, str(calls),
                               "1" if self.sts_available else "0"],
                              capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, env=env)
        lines = done.stdout.strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {"ok": False}
        answer["stderr"] = done.stderr
        answer["returncode"] = done.returncode
        return answer

    def assertAuthorizes(self, token):
        decision = self.admin.authorize(token, "s3:GetObject", OBJECT)
        self.assertDecision(decision, "Allowed")
        denied = self.admin.authorize(token, "s3:DeleteObject", OBJECT)
        self.assertDecision(denied, "ImplicitlyDenied")

    def assertCallerIsRoleSession(self, arn):
        self.assertTrue(arn.startswith("arn:aws:sts::%s:assumed-role/%s/" % (ACCOUNT, ROLE)), arn)

    def exercise(self, name, kind, executable, env_for_run, method):
        """Drives one client through a provider: several SDK calls, then an ended run."""
        run_id = self.new_run()
        env = env_for_run(run_id)
        if kind == "boto3":
            answer = self.run_boto3(executable, env)
            self.assertTrue(answer["ok"], answer)
            self.assertEqual(answer["method"], method, answer)
            self.assertTrue(answer["accessKeyId"].startswith("ASIA"), answer)
            if self.sts_available:
                self.assertEqual(len(answer["arns"]), SDK_CALLS, answer)
                for arn in answer["arns"]:
                    self.assertCallerIsRoleSession(arn)
            self.assertAuthorizes(answer["token"])
            # Five SDK calls in one process: one credential fetch, one session.
            issued, reused, sessions = self.fetches(run_id)
            self.assertEqual((issued, reused, len(sessions)), (1, 0, 1), name)
        else:
            for _ in range(3):
                done = self.run_cli(executable, env)
                if self.sts_available:
                    self.assertEqual(done.returncode, 0, done.stderr)
                    self.assertCallerIsRoleSession(json.loads(done.stdout)["Arn"])
            # Three processes, each fetching once: one session, handed out again twice.
            issued, reused, sessions = self.fetches(run_id)
            self.assertEqual((issued, reused, len(sessions)), (1, 2, 1), name)

        # The run ends: the next fetch fails, and the client says why.
        ended = self.agent.post("/v1/runs/%s/end" % run_id)
        self.assertEqual(ended.status, 200, ended)
        if kind == "boto3":
            answer = self.run_boto3(executable, env, calls=1)
            self.assertFalse(answer["ok"], answer)
            self.assertNotEqual(answer["returncode"], 0)
            self.assertIn("is not active", answer.get("error", ""), answer)
        else:
            done = self.run_cli(executable, env)
            self.assertNotEqual(done.returncode, 0, done.stdout)
            self.assertIn("is not active", done.stderr)
        self.assertEqual(self.fetches(run_id)[0], 1)

    # ---- the providers' own contracts ----

    def test_credential_process_prints_the_sdk_json_and_reuses_the_session(self):
        run_id = self.new_run()
        argv = [xrole_e2e.XROLE, "credential-process", "--role", ROLE, "--run", run_id,
                "--server", self.endpoint]
        env = {k: v for k, v in os.environ.items() if not k.startswith("XROLE_")}
        env["XROLE_TOKEN"] = self.agent_key
        first = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(first.returncode, 0, first.stderr)
        document = json.loads(first.stdout)
        self.assertEqual(list(document), ["Version", "AccessKeyId", "SecretAccessKey",
                                          "SessionToken", "Expiration"])
        self.assertEqual(document["Version"], 1)
        self.assertTrue(document["AccessKeyId"].startswith("ASIA"), document)
        self.assertRegex(document["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        left = calendar.timegm(time.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ")) - \
            time.time()
        self.assertTrue(3500 < left <= 3600, left)  # an hour by default
        self.assertAuthorizes(document["SessionToken"])

        second = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(json.loads(second.stdout), document)
        self.assertEqual(self.fetches(run_id)[:2], (1, 1))

        # --duration and --session-name change the request: a session of their own.
        named = subprocess.run(argv + ["--duration", "30m", "--session-name", "nightly"],
                               capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(named.returncode, 0, named.stderr)
        self.assertNotEqual(json.loads(named.stdout)["AccessKeyId"], document["AccessKeyId"])

        # Failures: a message on stderr, nothing on stdout, a non-zero status.
        unknown = subprocess.run(argv[:3] + ["no-such-role"] + argv[4:], capture_output=True,
                                 text=True, timeout=60, env=env)
        self.assertNotEqual(unknown.returncode, 0)
        self.assertEqual(unknown.stdout, "")
        self.assertIn("no-such-role", unknown.stderr)
        wrong_key = dict(env, XROLE_TOKEN=self.agent_key.split(":")[0] + ":wrong")
        refused = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=wrong_key)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("unauthenticated", refused.stderr)
        unreachable = subprocess.run(argv[:-1] + ["http://127.0.0.1:%d" % xrole_e2e.free_port()],
                                     capture_output=True, text=True, timeout=60, env=env)
        self.assertNotEqual(unreachable.returncode, 0)
        self.assertIn("no answer from the xrole server", unreachable.stderr)
        self.agent.post("/v1/runs/%s/end" % run_id)
        ended = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        self.assertNotEqual(ended.returncode, 0)
        self.assertEqual(ended.stdout, "")
        self.assertIn("is not active", ended.stderr)

    def test_container_endpoint_answers_the_sdk_shape(self):
        run_id = self.new_run()
        path = "/v1/credentials/container?role=%s&runId=%s" % (ROLE, run_id)

        def fetch(query=path, authorization=None, method="GET"):
            headers = {"Accept": "application/json"}
            if authorization is not None:
                headers["Authorization"] = authorization
            return self.server.client().request(method, query, token="", headers=headers)

        bare = fetch(authorization=self.agent_key)
        self.assertEqual(bare.status, 200, bare)
        self.assertTrue(bare.headers.get("Content-Type", "").startswith("application/json"))
        self.assertEqual(set(bare.json), {"AccessKeyId", "SecretAccessKey", "Token",
                                          "Expiration", "RoleArn"})
        self.assertEqual(bare.json["RoleArn"], "arn:aws:iam::%s:role/%s" % (ACCOUNT, ROLE))
        self.assertRegex(bare.json["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertAuthorizes(bare.json["Token"])
        bearer = fetch(authorization="Bearer " + self.agent_key)
        self.assertEqual(bearer.status, 200, bearer)
        self.assertEqual(bearer.json, bare.json)
        self.assertEqual(self.fetches(run_id)[:2], (1, 1))

        self.assertStatus(fetch(), 401, "unauthenticated", "AWS_CONTAINER_AUTHORIZATION_TOKEN")
        self.assertStatus(fetch(authorization=self.agent_key.split(":")[0] + ":wrong"), 401,
                          "unauthenticated")
        self.assertStatus(fetch("/v1/credentials/container?role=" + ROLE,
                                authorization=self.agent_key), 400, "invalid_argument", "runId")
        self.assertStatus(fetch(path + "&rol=x", authorization=self.agent_key), 400,
                          "invalid_argument", "unknown query parameter `rol`")
        self.assertStatus(fetch(path.replace(ROLE, "no-such-role"), authorization=self.agent_key),
                          404, "not_found")
        self.assertEqual(fetch(authorization=self.agent_key, method="POST").status, 405)
        # Another agent's key cannot fetch for this run.
        other = self.server.issue_key("agent", OTHER_AGENT)
        self.assertStatus(fetch(authorization=other), 403, "permission_denied",
                          "is not the agent of run")
        self.agent.post("/v1/runs/%s/end" % run_id)
        self.assertStatus(fetch(authorization=self.agent_key), 403, "permission_denied",
                          "is not active")

    def test_a_runs_own_key_serves_both_providers_for_that_run_only(self):
        started = self.agent.start_run(WORKFLOW)
        self.assertEqual(started.status, 201, started)
        run_id = started.json["runId"]
        run_key = "%s:%s" % (started.json["credentials"]["accessKeyId"],
                             started.json["credentials"]["secretAccessKey"])
        other_run = self.new_run()

        def fetch(query, authorization=run_key):
            return self.server.client().request(
                "GET", "/v1/credentials/container?" + query, token="",
                headers={"Accept": "application/json", "Authorization": authorization})

        # The container endpoint: no runId needed, the key names its run.
        first = fetch("role=" + ROLE)
        self.assertEqual(first.status, 200, first)
        self.assertAuthorizes(first.json["Token"])
        self.assertEqual(self.fetches(run_id)[:2], (1, 0))
        # credential-process with the run's key in XROLE_TOKEN and no --run: the same session.
        env = {k: v for k, v in os.environ.items() if not k.startswith("XROLE_")}
        env["XROLE_TOKEN"] = run_key
        done = subprocess.run([xrole_e2e.XROLE, "credential-process", "--role", ROLE,
                               "--server", self.endpoint],
                              capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["SessionToken"], first.json["Token"])
        self.assertEqual(self.fetches(run_id)[:2], (1, 1))
        issued = [r for r in self.admin.audit_records() if r["type"] == "session.assume"
                  and (r.get("event") or {}).get("run") == run_id]
        self.assertEqual(issued[0]["event"]["actor"]["principal"], "run:" + run_id)
        self.assertEqual(issued[0]["event"]["actor"]["agent"], AGENT)

        # An unmodified SDK given only the run's key.
        for name, kind, python, path in self.clients:
            if kind != "boto3":
                continue
            with self.subTest(client=name):
                answer = self.run_boto3(python, self.environment(path, {
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI":
                        "%s/v1/credentials/container?role=%s" % (self.endpoint, ROLE),
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN": run_key}), calls=2)
                self.assertTrue(answer["ok"], answer)
                self.assertEqual(answer["token"], first.json["Token"])

        # Only that run, and only assumes: not another run of the same agent, not the agent's
        # other calls.
        self.assertStatus(fetch("role=%s&runId=%s" % (ROLE, other_run)), 403,
                          "permission_denied", "is not the agent of run")
        as_run = self.server.client(run_key)
        self.assertEqual(as_run.start_run(WORKFLOW).status, 403)
        self.assertEqual(as_run.post("/v1/runs/%s/end" % other_run).status, 403)
        self.assertEqual(as_run.post("/v1/runs/%s/end" % run_id).status, 403)
        self.assertEqual(as_run.get("/v1/drift").status, 403)
        # The agent's key still needs the runId.
        self.assertStatus(fetch("role=" + ROLE, authorization=self.agent_key), 400,
                          "invalid_argument", "runId")

        # The run ends: its key is refused everywhere.
        self.assertEqual(self.agent.post("/v1/runs/%s/end" % run_id).status, 200)
        self.assertStatus(fetch("role=" + ROLE), 401, "unauthenticated")
        ended = subprocess.run([xrole_e2e.XROLE, "credential-process", "--role", ROLE,
                                "--server", self.endpoint],
                               capture_output=True, text=True, timeout=60, env=env)
        self.assertNotEqual(ended.returncode, 0)
        self.assertEqual(ended.stdout, "")
        self.assertEqual(self.fetches(run_id)[0], 1)

    # ---- the real clients ----

    def test_credential_process_with_every_client(self):
        if not self.clients:
            self.skipTest("no AWS client installed")
        for name, kind, executable, path in self.clients:
            with self.subTest(client=name):
                self.exercise(name, kind, executable,
                              lambda run_id, p=path, n=name: self.process_provider_env(
                                  p, run_id, n),
                              "custom-process")

    def test_container_credentials_with_every_client(self):
        if not self.clients:
            self.skipTest("no AWS client installed")
        for name, kind, executable, path in self.clients:
            with self.subTest(client=name):
                self.exercise(name, kind, executable,
                              lambda run_id, p=path: self.container_provider_env(p, run_id),
                              "container-role")

    def test_container_token_with_bearer_prefix(self):
        boto3_clients = [c for c in self.clients if c[1] == "boto3"]
        if not boto3_clients:
            self.skipTest("no boto3 installed")
        name, _, python, path = boto3_clients[0]
        run_id = self.new_run()
        env = self.container_provider_env(path, run_id, token="Bearer " + self.agent_key)
        answer = self.run_boto3(python, env, calls=2)
        self.assertTrue(answer["ok"], answer)
        self.assertEqual(answer["method"], "container-role")
        self.assertAuthorizes(answer["token"])


if __name__ == "__main__":
    xrole_e2e.main()
