"""The STS endpoint with the real, unmodified AWS clients.

Each installed client gets its own test class (and server): Debian's aws-cli 2.9.x (run as
`env PATH="$(getconf PATH)" aws ...`), Debian's boto3 (the system `/usr/bin/python3`), and the
newer awscli / boto3 of the default `aws` / `python3` on PATH when those are different
installations. Clients are pointed at the broker with `--endpoint-url` / `endpoint_url=`, a
region, and credentials from the environment; the configuration files are empty temporary
files, never the user's ~/.aws. With no client installed the tests skip.

`RawProtocolTest` needs no AWS client: it signs requests itself (SigV4 with the standard
library) to check what the clients cannot send, and the audit trail of STS calls.
"""

import atexit
import datetime
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree

import xrole_e2e
from xrole_e2e import ServerTestCase

ACCOUNT = "111122223333"
REGION = "us-east-1"
AGENT = "sts-agent"
SOLO_AGENT = "sts-solo"
APPROVER = "bob"  # neither sts-agent's sponsor (alice) nor a run initiator here
READER = "arn:aws:iam::%s:role/sts-reader" % ACCOUNT
PARTNER = "arn:aws:iam::%s:role/sts-partner" % ACCOUNT
GATED = "arn:aws:iam::%s:role/sts-gated" % ACCOUNT
CHAINED = "arn:aws:iam::%s:role/sts-chained" % ACCOUNT
AGENT_ARN = "arn:aws:iam::%s:user/xrole/agent/%s" % (ACCOUNT, AGENT)
OBJECT = "arn:aws:s3:::sts-test-bucket/data.csv"
BUCKET = "arn:aws:s3:::sts-test-bucket"
LIST_ONLY = "arn:aws:iam::%s:policy/sts/sts-list-only" % ACCOUNT
CLIENT_TIMEOUT_S = 120

# Roles as code for these tests (applied beside the examples): an agent with one workflow
# whose roles cover plain assume, an ExternalId condition, approval, and chaining, and a
# managed policy for PolicyArns.
FIXTURE = """
apiVersion: xrole/v1
kind: Agent
metadata:
  name: sts-agent
  owner: test@example.com
spec:
  sponsor: alice
  description: Agent driving the STS endpoint with AWS SDKs.
  tags:
    runtime: aws-sdk
---
apiVersion: xrole/v1
kind: Agent
metadata:
  name: sts-solo
  owner: test@example.com
spec:
  sponsor: alice
  description: Agent signing AssumeRole with its own key.
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: sts-reader
  owner: test@example.com
spec:
  account: "111122223333"
  description: Reads one test bucket.
  maxSessionDuration: 15m
  trust:
    agents: [sts-agent, sts-solo]
    workflows: [sts-flow]
  permissions:
    - name: read-bucket
      policy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [s3:GetObject, s3:ListBucket]
            Resource: ["arn:aws:s3:::sts-test-bucket", "arn:aws:s3:::sts-test-bucket/*"]
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: sts-partner
  owner: test@example.com
spec:
  account: "111122223333"
  description: Assumable only with the partner's external id.
  maxSessionDuration: 15m
  trust:
    agents: [sts-agent]
    workflows: [sts-flow]
    conditions:
      StringEquals:
        sts:ExternalId: partner-42
  permissions:
    - Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: "arn:aws:s3:::sts-test-bucket/*"
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: sts-gated
  owner: test@example.com
spec:
  account: "111122223333"
  description: Needs a human approval for every session.
  maxSessionDuration: 15m
  trust:
    agents: [sts-agent]
    workflows: [sts-flow]
  approval:
    required: true
    ttl: 30m
  permissions:
    - Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:PutObject
          Resource: "arn:aws:s3:::sts-test-bucket/*"
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: sts-chained
  owner: test@example.com
spec:
  account: "111122223333"
  description: Reached only by chaining from an sts-reader session.
  maxSessionDuration: 15m
  trust:
    workflows: [sts-flow]
    conditions:
      ArnEquals:
        aws:PrincipalArn: arn:aws:iam::111122223333:role/sts-reader
  permissions:
    - Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: "arn:aws:s3:::sts-test-bucket/*"
---
apiVersion: xrole/v1
kind: Workflow
metadata:
  name: sts-flow
  owner: test@example.com
spec:
  description: Everything the STS tests assume.
  roles: [sts-reader, sts-partner, sts-gated, sts-chained]
  maxRunDuration: 2h
---
apiVersion: xrole/v1
kind: ManagedPolicy
metadata:
  name: sts-list-only
  owner: test@example.com
spec:
  path: /sts/
  description: Lists the test bucket, reads nothing.
  document:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: s3:ListBucket
        Resource: "arn:aws:s3:::sts-test-bucket"
"""


def epoch(text):
    """Seconds since the epoch of an Expiration as the clients print it: "...T..Z",
    "...T..+00:00" or boto3's "YYYY-MM-DD HH:MM:SS+00:00"."""
    text = text.strip().replace(" ", "T").replace("Z", "+00:00")
    text = re.sub(r"\.\d+", "", text)
    return datetime.datetime.fromisoformat(text).timestamp()


class Outcome:
    """One client call: `result` (the parsed answer) or an AWS error `code` and `message`."""

    def __init__(self, ok, result=None, code=None, message="", raw=""):
        self.ok = ok
        self.result = result
        self.code = code
        self.message = message
        self.raw = raw

    def __repr__(self):
        if self.ok:
            return "Outcome(ok, %r)" % (self.result,)
        return "Outcome(%s: %s) %s" % (self.code, self.message, self.raw[-800:])


def client_env(path, credentials, config_dir):
    """The environment of one client process: credentials and region from variables, empty
    config files, nothing inherited that could point the client elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("BOTO_CONFIG",)}
    env["PATH"] = path
    env["AWS_DEFAULT_REGION"] = REGION
    env["AWS_CONFIG_FILE"] = os.path.join(config_dir, "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(config_dir, "credentials")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_PAGER"] = ""
    if credentials:
        env["AWS_ACCESS_KEY_ID"] = credentials["AccessKeyId"]
        env["AWS_SECRET_ACCESS_KEY"] = credentials["SecretAccessKey"]
        if credentials.get("SessionToken"):
            env["AWS_SESSION_TOKEN"] = credentials["SessionToken"]
    return env


class AwsCli:
    """The `aws` command: `aws --endpoint-url URL --output json sts OPERATION ...`."""

    can_presign = False

    def __init__(self, name, executable, path, config_dir):
        self.name = name
        self.executable = executable
        self.path = path
        self.config_dir = config_dir

    def close(self):
        pass

    @staticmethod
    def arguments(operation, params):
        if operation == "get_caller_identity":
            return ["get-caller-identity"]
        args = ["assume-role"]
        for key, value in params.items():
            flag = "--" + re.sub(r"(?<!^)([A-Z])", r"-\1", key).lower()
            if key == "PolicyArns":  # the CLI's shorthand: --policy-arns arn=A arn=B
                args += [flag] + ["arn=%s" % item["arn"] for item in value]
            elif key == "Tags":
                args += [flag, json.dumps(value)]
            elif key == "TransitiveTagKeys":
                args += [flag] + list(value)
            else:
                args += [flag, str(value)]
        return args

    def call(self, endpoint, credentials, operation, params=None):
        argv = [self.executable, "--endpoint-url", endpoint, "--output", "json", "sts"]
        argv += self.arguments(operation, params or {})
        done = subprocess.run(argv, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S,
                              env=client_env(self.path, credentials, self.config_dir))
        if done.returncode == 0:
            return Outcome(True, json.loads(done.stdout), raw=done.stderr)
        match = re.search(r"An error occurred \((\w+)\) when calling the \w+ operation: (.*)",
                          done.stderr, re.S)
        if match is None:
            return Outcome(False, code="exit-%d" % done.returncode, message=done.stderr,
                           raw=done.stdout + done.stderr)
        return Outcome(False, code=match.group(1), message=match.group(2).strip(),
                       raw=done.stderr)


BOTO3_WORKER = r"""
import json, sys
import boto3, botocore.exceptions
for line in sys.stdin:
    request = json.loads(line)
    credentials = request["credentials"] or {}
    try:
        client = boto3.session.Session().client(
            "sts", endpoint_url=request["endpoint"], region_name=request["region"],
            aws_access_key_id=credentials.get("AccessKeyId"),
            aws_secret_access_key=credentials.get("SecretAccessKey"),
            aws_session_token=credentials.get("SessionToken"))
        if request["operation"] == "presign":
            answer = {"ok": True, "result": client.generate_presigned_url(
                "get_caller_identity", ExpiresIn=300, **request["params"])}
        else:
            answer = {"ok": True,
                      "result": getattr(client, request["operation"])(**request["params"])}
    except botocore.exceptions.ClientError as e:
        answer = {"ok": False, "code": e.response["Error"]["Code"],
                  "message": e.response["Error"].get("Message", ""),
                  "status": e.response["ResponseMetadata"].get("HTTPStatusCode")}
    except Exception as e:
        answer = {"ok": False, "code": "client-exception", "message": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(answer, default=str) + "\n")
    sys.stdout.flush()
"""


class Boto3:
    """boto3 in one long-lived interpreter (imported once), fed one call per line."""

    can_presign = True

    def __init__(self, name, python, path, config_dir):
        self.name = name
        self.python = python
        self.path = path
        self.config_dir = config_dir
        self.process = None

    def _worker(self):
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [self.python, "-c", BOTO3_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, env=client_env(self.path, None, self.config_dir))
        return self.process

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def call(self, endpoint, credentials, operation, params=None):
        worker = self._worker()
        worker.stdin.write(json.dumps({"endpoint": endpoint, "region": REGION,
                                       "credentials": credentials, "operation": operation,
                                       "params": params or {}}) + "\n")
        worker.stdin.flush()
        line = worker.stdout.readline()
        if not line:
            raise AssertionError("the boto3 worker (%s) exited" % self.python)
        answer = json.loads(line)
        if answer["ok"]:
            return Outcome(True, answer["result"])
        return Outcome(False, code=answer["code"], message=answer["message"], raw=line)


def discover_clients(config_dir):
    """Every distinct installed AWS client, as AwsCli or Boto3 drivers."""
    drivers = {"cli": AwsCli, "boto3": Boto3}
    return [drivers[kind](name, executable, path, config_dir)
            for name, kind, executable, path in xrole_e2e.installed_aws_clients()]


# ---- SigV4 with the standard library (for RawProtocolTest) ----

def sigv4_post(port, form, credentials, when=None, region=REGION, service="sts"):
    """POST / with `form` (a dict or a str) signed the way the SDKs sign STS calls; returns
    (status, headers, body)."""
    body = form if isinstance(form, str) else urllib.parse.urlencode(form)
    now = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    host = "127.0.0.1:%d" % port
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
               "host": host, "x-amz-date": amz_date}
    if credentials.get("SessionToken"):
        headers["x-amz-security-token"] = credentials["SessionToken"]
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["POST", "/", ""] +
                          ["%s:%s" % (k, headers[k].strip()) for k in sorted(headers)] +
                          ["", signed, hashlib.sha256(body.encode()).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + credentials["SecretAccessKey"]).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                "Signature=%s" % (credentials["AccessKeyId"], scope, signed,
                                                  signature))
    del headers["host"]
    request = urllib.request.Request("http://%s/" % host, data=body.encode(), headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def http_request(url, data=None):
    """(status, headers, body) of a GET, or of a form POST when `data` is given."""
    try:
        with urllib.request.urlopen(url, data=data, timeout=30) as reply:
            return reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def xml_text(body, name):
    """Text of the first element named `name` (any namespace), or None."""
    root = ElementTree.fromstring(body)
    for element in root.iter():
        if element.tag.split("}")[-1] == name:
            return element.text
    return None


# ---- the tests every client runs ----

class StsServerTestCase(ServerTestCase):
    """A server with the examples and the STS fixture."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reply = cls.admin.apply(FIXTURE)
        if reply.status != 200:
            raise AssertionError("applying the STS fixture: %r" % reply)
        cls.endpoint = "http://127.0.0.1:%d" % cls.server.port
        cls.agent = cls.server.agent(AGENT)
        cls.approver = cls.server.human(APPROVER)

    def start_run(self, ttl=None, agent=None):
        run = (agent or self.agent).start_run("sts-flow", ttl=ttl)
        self.assertStatus(run, 201)
        credentials = run.json["credentials"]
        self.assertTrue(credentials["accessKeyId"].startswith("AKIA"), run)
        self.assertEqual(credentials["accessKeyId"], run.json["accessKeyId"])
        return run.json["runId"], {"AccessKeyId": credentials["accessKeyId"],
                                   "SecretAccessKey": credentials["secretAccessKey"]}

    def session_record(self, credentials):
        session_id = xrole_e2e.token_claims(credentials["SessionToken"])["sid"]
        record = self.admin.get("/v1/sessions/" + session_id)
        self.assertStatus(record, 200)
        return record.json


class AwsClientTests:
    """Mixed into one StsServerTestCase per installed client (`aws`, below)."""

    aws = None

    @classmethod
    def tearDownClass(cls):
        cls.aws.close()
        super().tearDownClass()

    def call(self, credentials, operation, **params):
        return self.aws.call(self.endpoint, credentials, operation, params)

    def assume(self, credentials, role_arn, session_name, **params):
        return self.call(credentials, "assume_role", RoleArn=role_arn,
                         RoleSessionName=session_name, **params)

    def identity(self, credentials):
        return self.call(credentials, "get_caller_identity")

    def assertOk(self, outcome):
        self.assertTrue(outcome.ok, outcome)
        return outcome.result

    def assertAwsError(self, outcome, code, message_has=None):
        self.assertFalse(outcome.ok, outcome)
        self.assertEqual(outcome.code, code, outcome)
        if message_has is not None:
            self.assertIn(message_has, outcome.message, outcome)
        return outcome

    def session_credentials(self, result):
        credentials = result["Credentials"]
        self.assertTrue(credentials["AccessKeyId"].startswith("ASIA"), result)
        return {k: credentials[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}

    def assume_ok(self, credentials, role_arn, session_name, **params):
        result = self.assertOk(self.assume(credentials, role_arn, session_name, **params))
        return result, self.session_credentials(result)

    def authorize(self, credentials, action, resource):
        return self.admin.authorize(credentials["SessionToken"], action, resource)

    # ---- the tests ----

    def test_assume_role_with_run_credentials_and_caller_identity(self):
        run_id, run_credentials = self.start_run()
        before = time.time()
        result, session = self.assume_ok(run_credentials, READER, "ci-first")
        user = result["AssumedRoleUser"]
        self.assertEqual(user["Arn"], "arn:aws:sts::%s:assumed-role/sts-reader/ci-first" % ACCOUNT)
        self.assertRegex(user["AssumedRoleId"], r"^AROA[A-Z2-7]{17}:ci-first$")
        # The default duration (15 minutes).
        self.assertAlmostEqual(epoch(result["Credentials"]["Expiration"]) - before, 900, delta=10)
        self.assertNotIn("PackedPolicySize", result)
        # The session is bound to the run of the key that asked for it.
        record = self.session_record(session)
        self.assertEqual(record["runId"], run_id)
        self.assertEqual(record["agent"], AGENT)
        self.assertEqual(record["status"], "active")
        # Who am I: the assumed role for the session, the agent for the run key.
        me = self.assertOk(self.identity(session))
        self.assertEqual(me["Arn"], user["Arn"])
        self.assertEqual(me["UserId"], user["AssumedRoleId"])
        self.assertEqual(me["Account"], ACCOUNT)
        agent = self.assertOk(self.identity(run_credentials))
        self.assertEqual(agent["Arn"], AGENT_ARN)
        self.assertRegex(agent["UserId"], r"^AIDA[A-Z2-7]{17}$")
        # The session's token decides at the JSON API like any other.
        self.assertDecision(self.authorize(session, "s3:GetObject", OBJECT), "Allowed")
        self.assertDecision(self.authorize(session, "s3:DeleteObject", OBJECT), "ImplicitlyDenied")

    def test_presigned_get_caller_identity(self):
        if not self.aws.can_presign:
            self.skipTest("%s cannot presign" % self.aws.name)
        _, run_credentials = self.start_run()
        _, session = self.assume_ok(run_credentials, READER, "ci-presign")
        arn = "arn:aws:sts::%s:assumed-role/sts-reader/ci-presign" % ACCOUNT
        # Signed for GET: a plain GET /?Action=GetCallerIdentity&...&X-Amz-Signature=...
        url = self.assertOk(self.call(session, "presign", HttpMethod="GET"))
        self.assertIn("X-Amz-Signature=", url)
        status, headers, body = http_request(url)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["x-amzn-RequestId"], xml_text(body, "RequestId"))
        self.assertEqual(xml_text(body, "Arn"), arn)
        # The SDK's default signs the operation's own method, POST, with an empty body.
        url = self.assertOk(self.call(session, "presign"))
        status, _, body = http_request(url, data=b"")
        self.assertEqual((status, xml_text(body, "Arn")), (200, arn), body)
        # A presigned URL is bound to its method.
        status, _, body = http_request(url)
        self.assertEqual((status, xml_text(body, "Code")), (403, "SignatureDoesNotMatch"), body)

    def test_wrong_secret_and_unknown_key(self):
        _, run_credentials = self.start_run()
        wrong = dict(run_credentials, SecretAccessKey="x" * 40)
        self.assertAwsError(self.identity(wrong), "SignatureDoesNotMatch")
        self.assertAwsError(self.assume(wrong, READER, "ci-wrong"), "SignatureDoesNotMatch")
        unknown = dict(run_credentials, AccessKeyId="AKIAAAAAAAAAAAAAAAAA")
        self.assertAwsError(self.identity(unknown), "InvalidClientTokenId")

    def test_an_expired_session_and_run(self):
        # The session is clamped to the run's end, three seconds away.
        _, run_credentials = self.start_run(ttl=3)
        result, session = self.assume_ok(run_credentials, READER, "ci-expiring")
        expires = epoch(result["Credentials"]["Expiration"])
        self.assertLessEqual(expires - time.time(), 4)
        while time.time() < expires + 1.2:
            time.sleep(0.2)
        self.assertAwsError(self.identity(session), "ExpiredToken")
        self.assertAwsError(self.assume(run_credentials, READER, "ci-late"), "ExpiredToken")

    def test_a_revoked_session(self):
        _, run_credentials = self.start_run()
        _, session = self.assume_ok(run_credentials, READER, "ci-revoked")
        session_id = self.session_record(session)["sessionId"]
        self.assertStatus(self.admin.revoke(sessionId=session_id, reason="leaked"), 200)
        self.assertAwsError(self.identity(session), "InvalidClientTokenId", "revoked")
        self.assertAwsError(self.assume(session, CHAINED, "ci-chain"), "InvalidClientTokenId")
        # The run and its key live on.
        self.assertOk(self.identity(run_credentials))

    def test_an_ended_run_refuses_its_credentials_and_sessions(self):
        run_id, run_credentials = self.start_run()
        _, session = self.assume_ok(run_credentials, READER, "ci-ended")
        self.assertStatus(self.agent.post("/v1/runs/%s/end" % run_id), 200)
        self.assertAwsError(self.identity(run_credentials), "InvalidClientTokenId")
        self.assertAwsError(self.assume(run_credentials, READER, "ci-after"),
                            "InvalidClientTokenId")
        self.assertAwsError(self.identity(session), "InvalidClientTokenId")

    def test_approval_then_the_same_call_succeeds(self):
        _, run_credentials = self.start_run()
        params = {"DurationSeconds": 900}
        refused = self.assertAwsError(self.assume(run_credentials, GATED, "ci-gated", **params),
                                      "AccessDenied", "must be approved")
        approval_id = re.search(r"apr-[0-9a-f]+", refused.message).group(0)
        # Repeating before the approval opens no second request.
        again = self.assertAwsError(self.assume(run_credentials, GATED, "ci-gated", **params),
                                    "AccessDenied")
        self.assertIn(approval_id, again.message)
        approved = self.approver.post("/v1/approvals/%s/approve" % approval_id,
                                      {"reason": "looks right"})
        self.assertStatus(approved, 200)
        # A different request is not covered by the approval.
        other = self.assertAwsError(self.assume(run_credentials, GATED, "ci-other", **params),
                                    "AccessDenied")
        self.assertNotIn(approval_id, other.message)
        result, session = self.assume_ok(run_credentials, GATED, "ci-gated", **params)
        self.assertEqual(result["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::%s:assumed-role/sts-gated/ci-gated" % ACCOUNT)
        self.assertDecision(self.authorize(session, "s3:PutObject", OBJECT), "Allowed")
        # An approval is used once.
        used = self.assertAwsError(self.assume(run_credentials, GATED, "ci-gated", **params),
                                   "AccessDenied", "must be approved")
        self.assertNotIn(approval_id, used.message)

    def test_session_policy_scopes_down(self):
        _, run_credentials = self.start_run()
        _, full = self.assume_ok(run_credentials, READER, "ci-full")
        self.assertDecision(self.authorize(full, "s3:ListBucket", BUCKET), "Allowed")
        policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJECT}]})
        result, scoped = self.assume_ok(run_credentials, READER, "ci-scoped", Policy=policy)
        self.assertGreaterEqual(int(result["PackedPolicySize"]), 1)
        self.assertDecision(self.authorize(scoped, "s3:GetObject", OBJECT), "Allowed")
        self.assertDecision(self.authorize(scoped, "s3:ListBucket", BUCKET), "ImplicitlyDenied")

    def test_tags_source_identity_and_chaining(self):
        run_id, run_credentials = self.start_run()
        result, session = self.assume_ok(
            run_credentials, READER, "ci-tagged",
            Tags=[{"Key": "project", "Value": "ml"}, {"Key": "ticket", "Value": "CHG-7"}],
            TransitiveTagKeys=["project"], SourceIdentity="agent-7")
        self.assertEqual(result["SourceIdentity"], "agent-7")
        self.assertGreaterEqual(int(result["PackedPolicySize"]), 1)
        record = self.session_record(session)
        self.assertEqual(record["tags"], {"project": "ml", "ticket": "CHG-7"})
        self.assertEqual(record["transitiveTagKeys"], ["project"])
        self.assertEqual(record["sourceIdentity"], "agent-7")
        # Role chaining with the session's own credentials, in the same run.
        _, chained = self.assume_ok(session, CHAINED, "ci-chained")
        chained_record = self.session_record(chained)
        self.assertEqual(chained_record["runId"], run_id)
        self.assertEqual(chained_record["parentSessionId"], record["sessionId"])
        self.assertTrue(chained_record["chained"])
        self.assertEqual(chained_record["tags"].get("project"), "ml")
        self.assertEqual(chained_record["transitiveTagKeys"], ["project"])
        self.assertEqual(chained_record["sourceIdentity"], "agent-7")
        me = self.assertOk(self.identity(chained))
        self.assertEqual(me["Arn"], "arn:aws:sts::%s:assumed-role/sts-chained/ci-chained" % ACCOUNT)
        # The source identity is immutable down the chain.
        self.assertAwsError(self.assume(session, CHAINED, "ci-rename", SourceIdentity="someone"),
                            "AccessDenied", "immutable")

    def test_external_id_in_the_trust_policy(self):
        _, run_credentials = self.start_run()
        self.assertAwsError(self.assume(run_credentials, PARTNER, "ci-partner"), "AccessDenied",
                            "is not authorized to perform: sts:AssumeRole")
        self.assertAwsError(self.assume(run_credentials, PARTNER, "ci-partner",
                                        ExternalId="partner-41"), "AccessDenied")
        result, _ = self.assume_ok(run_credentials, PARTNER, "ci-partner", ExternalId="partner-42")
        self.assertEqual(result["AssumedRoleUser"]["Arn"],
                         "arn:aws:sts::%s:assumed-role/sts-partner/ci-partner" % ACCOUNT)

    def test_duration_is_clamped(self):
        _, run_credentials = self.start_run()
        before = time.time()
        result, _ = self.assume_ok(run_credentials, READER, "ci-long", DurationSeconds=43200)
        self.assertAlmostEqual(epoch(result["Credentials"]["Expiration"]) - before, 900, delta=10)
        _, short_run = self.start_run(ttl=120)
        before = time.time()
        result, _ = self.assume_ok(short_run, READER, "ci-run-end", DurationSeconds=900)
        self.assertAlmostEqual(epoch(result["Credentials"]["Expiration"]) - before, 120, delta=10)

    def test_policy_size_and_validity(self):
        _, run_credentials = self.start_run()
        statements = [{"Sid": "Read%04d" % i, "Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::sts-test-bucket/prefix-%04d/*" % i}
                      for i in range(120)]
        too_large = json.dumps({"Version": "2012-10-17", "Statement": statements})
        self.assertGreater(len(too_large), 10 * 1024)
        self.assertAwsError(self.assume(run_credentials, READER, "ci-large", Policy=too_large),
                            "PackedPolicyTooLarge")
        # More than 8 KiB as sent, less once the whitespace is gone: a form body over 8 KiB.
        spaced = json.dumps({"Version": "2012-10-17", "Statement": statements[:40]}, indent=12)
        self.assertGreater(len(spaced), 8 * 1024)
        result, session = self.assume_ok(run_credentials, READER, "ci-spaced", Policy=spaced)
        self.assertTrue(1 <= int(result["PackedPolicySize"]) <= 100, result)
        self.assertDecision(
            self.authorize(session, "s3:GetObject", "arn:aws:s3:::sts-test-bucket/prefix-0007/x"),
            "Allowed")
        malformed = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allowed", ' \
                    '"Action": "s3:*", "Resource": "*"}]}'
        self.assertAwsError(self.assume(run_credentials, READER, "ci-bad", Policy=malformed),
                            "MalformedPolicyDocument")
        self.assertAwsError(self.assume(run_credentials, READER, "ci-arns", PolicyArns=[
            {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]), "ValidationError",
            "`arn:aws:iam::aws:policy/ReadOnlyAccess` does not exist")

    def test_policy_arns_scope_the_session_down(self):
        _, run_credentials = self.start_run()
        result, session = self.assume_ok(run_credentials, READER, "ci-managed",
                                         PolicyArns=[{"arn": LIST_ONLY}])
        self.assertTrue(1 <= int(result["PackedPolicySize"]) <= 100, result)
        self.assertDecision(self.authorize(session, "s3:ListBucket", BUCKET), "Allowed")
        self.assertDecision(self.authorize(session, "s3:GetObject", OBJECT), "ImplicitlyDenied")
        self.assertEqual(self.session_record(session)["policyArns"], [LIST_ONLY])
        # With an inline policy too: what either allows, within the role.
        get_object = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": OBJECT}]})
        _, both = self.assume_ok(run_credentials, READER, "ci-managed-inline", Policy=get_object,
                                 PolicyArns=[{"arn": LIST_ONLY}])
        self.assertDecision(self.authorize(both, "s3:ListBucket", BUCKET), "Allowed")
        self.assertDecision(self.authorize(both, "s3:GetObject", OBJECT), "Allowed")
        self.assertDecision(self.authorize(both, "s3:PutObject", OBJECT), "ImplicitlyDenied")
        # The ARN names the policy with its path.
        self.assertAwsError(self.assume(run_credentials, READER, "ci-no-path", PolicyArns=[
            {"arn": "arn:aws:iam::%s:policy/sts-list-only" % ACCOUNT}]), "ValidationError",
            "does not exist")

    def test_unknown_role(self):
        _, run_credentials = self.start_run()
        role = "arn:aws:iam::%s:role/no-such-role" % ACCOUNT
        self.assertAwsError(self.assume(run_credentials, role, "ci-unknown"), "AccessDenied",
                            "User: %s is not authorized to perform: sts:AssumeRole on resource: %s"
                            % (AGENT_ARN, role))

    def test_an_agent_key_names_its_run(self):
        key = self.server.issue_key("agent", SOLO_AGENT)
        solo = self.server.client(key)
        access_key_id, secret = key.split(":", 1)
        credentials = {"AccessKeyId": access_key_id, "SecretAccessKey": secret}
        self.assertAwsError(self.assume(credentials, READER, "ci-solo"), "ValidationError",
                            "0 active runs")
        first, _ = self.start_run(agent=solo)
        _, session = self.assume_ok(credentials, READER, "ci-solo")
        self.assertEqual(self.session_record(session)["runId"], first)
        second, _ = self.start_run(agent=solo)
        self.assertAwsError(self.assume(credentials, READER, "ci-solo"), "ValidationError",
                            "xrole:run")
        _, session = self.assume_ok(credentials, READER, "ci-solo", Tags=[
            {"Key": "xrole:run", "Value": second}, {"Key": "step", "Value": "2"}])
        record = self.session_record(session)
        self.assertEqual(record["runId"], second)
        self.assertEqual(record["tags"], {"step": "2"})


# ---- no AWS client needed ----

class RawProtocolTest(StsServerTestCase):
    def test_protocol_errors_and_request_ids(self):
        port = self.server.port
        _, run_credentials = self.start_run()
        status, headers, body = sigv4_post(port, {"Action": "Frobnicate",
                                                  "Version": "2011-06-15"}, run_credentials)
        self.assertEqual(status, 400, body)
        self.assertEqual(headers["Content-Type"], "text/xml")
        self.assertEqual(xml_text(body, "Code"), "InvalidAction")
        self.assertEqual(xml_text(body, "RequestId"), headers["x-amzn-RequestId"])
        # No signature at all.
        request = urllib.request.Request(
            "http://127.0.0.1:%d/" % port, data=b"Action=GetCallerIdentity&Version=2011-06-15",
            headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        self.assertEqual(refused.exception.code, 403)
        self.assertEqual(xml_text(refused.exception.read().decode(), "Code"),
                         "MissingAuthenticationToken")
        # A request signed 20 minutes ago.
        stale = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
        status, _, body = sigv4_post(port, {"Action": "GetCallerIdentity",
                                            "Version": "2011-06-15"}, run_credentials, when=stale)
        self.assertEqual((status, xml_text(body, "Code")), (400, "RequestExpired"), body)
        # Signed for another service.
        status, _, body = sigv4_post(port, {"Action": "GetCallerIdentity",
                                            "Version": "2011-06-15"}, run_credentials,
                                     service="s3")
        self.assertEqual((status, xml_text(body, "Code")), (403, "SignatureDoesNotMatch"), body)
        # The JSON API keeps its own root-path answer.
        self.assertStatus(self.admin.post("/", {"x": 1}), 404)

    def test_humans_and_caller_identity(self):
        access_key_id, secret = self.server.issue_key("human", APPROVER).split(":", 1)
        human = {"AccessKeyId": access_key_id, "SecretAccessKey": secret}
        status, _, body = sigv4_post(self.server.port, {"Action": "GetCallerIdentity",
                                                        "Version": "2011-06-15"}, human)
        self.assertEqual(status, 200, body)
        self.assertEqual(xml_text(body, "Arn"),
                         "arn:aws:iam::%s:user/xrole/human/%s" % (ACCOUNT, APPROVER))
        status, _, body = sigv4_post(self.server.port, {
            "Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": READER,
            "RoleSessionName": "human-1"}, human)
        self.assertEqual((status, xml_text(body, "Code")), (403, "AccessDenied"), body)

    def test_calls_are_audited_without_secrets(self):
        run_id, run_credentials = self.start_run()
        form = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": READER,
                "RoleSessionName": "audited-1"}
        status, _, body = sigv4_post(self.server.port, form, run_credentials)
        self.assertEqual(status, 200, body)
        session_secret = xml_text(body, "SecretAccessKey")
        session_token = xml_text(body, "SessionToken")
        wrong = dict(run_credentials, SecretAccessKey="y" * 40)
        status, _, _ = sigv4_post(self.server.port, form, wrong)
        self.assertEqual(status, 403)
        records = self.admin.audit_records()
        calls = [r for r in records if r["type"] == "sts.call"
                 and r["event"].get("run") == run_id]
        self.assertTrue(any(r["event"]["details"]["action"] == "AssumeRole"
                            and r["event"]["outcome"] == "ok" for r in calls), calls)
        rejected = [r["event"]["details"] for r in records
                    if r["type"] == "auth.rejected"]
        self.assertIn({"via": "sigv4", "accessKeyId": run_credentials["AccessKeyId"],
                       "code": "SignatureDoesNotMatch"},
                      [{k: d.get(k) for k in ("via", "accessKeyId", "code")} for d in rejected])
        assumed = [r for r in records if r["type"] == "session.assume"
                   and r["event"].get("run") == run_id]
        self.assertEqual(len(assumed), 1, assumed)
        everything = json.dumps(records)
        for secret in (run_credentials["SecretAccessKey"], session_secret, session_token):
            self.assertNotIn(secret, everything)


def _client_classes():
    config_dir = tempfile.mkdtemp(prefix="xrole-e2e-aws-")
    atexit.register(shutil.rmtree, config_dir, True)
    for name in ("config", "credentials"):
        open(os.path.join(config_dir, name), "w").close()
    classes = {}
    for client in discover_clients(config_dir):
        class_name = "StsWith_" + client.name.replace("-", "_")
        classes[class_name] = type(class_name, (AwsClientTests, StsServerTestCase),
                                   {"aws": client})
    if not classes:
        class NoAwsClient(unittest.TestCase):
            def test_clients(self):
                self.skipTest("no AWS CLI or boto3 installed (scripts/install_deps.sh)")
        classes["NoAwsClient"] = NoAwsClient
    return classes


globals().update(_client_classes())

if __name__ == "__main__":
    xrole_e2e.main()
