"""The client commands of `xrole` (docs/cli.md) against a running server: the same flows as the
HTTP tests, driven only through the command line, checking outputs and exit statuses (0 ok,
1 refused or denied, 2 error, 3 approval pending)."""

import json
import os
import subprocess
import tempfile

import xrole_e2e
from xrole_e2e import ServerTestCase

INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"
EXIT_OK, EXIT_REFUSED, EXIT_ERROR, EXIT_PENDING = 0, 1, 2, 3


class CliTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = {k: v for k, v in os.environ.items()
                   if k not in ("XROLE_TOKEN", "XROLE_SESSION_TOKEN")}
        cls.env["XROLE_SERVER"] = "http://127.0.0.1:%d" % cls.server.port
        cls.env["XROLE_DATA"] = cls.server.data_dir

    def xrole(self, *args, expect=EXIT_OK, stdin=None, token=None, env=None):
        """Runs `xrole ARGS`; checks the exit status; returns the completed process."""
        command = [xrole_e2e.XROLE] + list(args)
        if token is not None:
            command += ["--token", token]
        result = subprocess.run(command, capture_output=True, text=True, input=stdin,
                                env=env or self.env, timeout=60)
        self.assertEqual(result.returncode, expect,
                         "xrole %s\nstdout: %s\nstderr: %s" % (" ".join(args), result.stdout,
                                                               result.stderr))
        return result

    def credentials(self, kind, name):
        result = self.xrole(kind, "credentials", name, "--output", "json")
        self.assertIn("shown only now", result.stderr)
        return json.loads(result.stdout)["bearerToken"]

    def assume_env(self, *args, token):
        result = self.xrole("assume", *args, "--format", "env", token=token)
        exports = dict(line[len("export "):].split("=", 1)
                       for line in result.stdout.splitlines() if line.startswith("export "))
        self.assertEqual(exports["AWS_SESSION_TOKEN"], exports["XROLE_SESSION_TOKEN"])
        self.assertTrue(exports["AWS_ACCESS_KEY_ID"].startswith("ASIA"))
        return exports

    def authorize(self, session_token, action, resource=INSTANCE, expect=EXIT_OK, *extra):
        result = self.xrole("authorize", "--token", session_token, "--action", action,
                            "--resource", resource, *extra, expect=expect)
        return result.stdout.splitlines()[0] if result.stdout else ""

    def test_incident_response_flow(self):
        agent = self.credentials("agent", "ir-agent")
        started = self.xrole("run", "start", "--workflow", "incident-response", "--tag",
                             "finding=gd-123", token=agent)
        run_id = started.stdout.splitlines()[0]
        self.assertTrue(run_id.startswith("run-"), started.stdout)
        shown = self.xrole("run", "show", run_id, "--output", "json")
        self.assertEqual(json.loads(shown.stdout)["tags"], {"finding": "gd-123"})

        session = self.assume_env("--role", "incident-responder", "--run", run_id,
                                  "--duration", "5m", token=agent)
        token = session["XROLE_SESSION_TOKEN"]
        claims = xrole_e2e.token_claims(token)
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        self.assertEqual(self.authorize(token, "ec2:StopInstances"), "Allowed")
        self.assertEqual(self.authorize(token, "ec2:DeleteSnapshot",
                                        "arn:aws:ec2:eu-west-1::snapshot/snap-1",
                                        EXIT_REFUSED), "ExplicitlyDenied")
        # XROLE_SESSION_TOKEN is the default session token.
        env = dict(self.env, XROLE_SESSION_TOKEN=token)
        decided = self.xrole("authorize", "--action", "cloudtrail:StopLogging", "--resource",
                             "*", "--output", "json", expect=EXIT_REFUSED, env=env)
        decision = json.loads(decided.stdout)
        self.assertEqual(decision["decision"], "ExplicitlyDenied")
        self.assertIn("NeverTouchLogging", [r.get("sid") for r in decision["reasons"]])

        shown = self.xrole("session", "show", session["XROLE_SESSION_ID"], "--output", "json")
        self.assertEqual(json.loads(shown.stdout)["status"], "active")
        self.assertNotIn(session["AWS_SECRET_ACCESS_KEY"], shown.stdout)

        revoked = self.xrole("revoke", "--session", session["XROLE_SESSION_ID"], "--reason",
                             "contained", "--output", "json", token=agent)
        self.assertEqual(json.loads(revoked.stdout)["revoked"], 1)
        rejected = self.xrole("authorize", "--token", token, "--action", "ec2:StopInstances",
                              "--resource", INSTANCE, expect=EXIT_REFUSED)
        self.assertIn("revoked", rejected.stdout + rejected.stderr)

        ended = self.xrole("run", "end", run_id, "--output", "json", token=agent)
        self.assertEqual(json.loads(ended.stdout), {"runId": run_id, "revoked": 0})
        # Refused operations exit 1 with the API's error code on standard error.
        refused = self.xrole("assume", "--role", "incident-responder", "--run", run_id,
                             token=agent, expect=EXIT_REFUSED)
        self.assertIn("permission_denied", refused.stderr)

    def test_code_deploy_approval_flow(self):
        agent = self.credentials("agent", "code-agent")
        bob = self.credentials("human", "bob")
        carol = self.credentials("human", "carol")
        # bob starts the run for the agent (he is its initiator).
        run_id = self.xrole("run", "start", "--workflow", "code-deploy", "--agent",
                            "code-agent", "--tag", "change-ticket=CHG-77",
                            token=bob).stdout.splitlines()[0]
        self.assertEqual(self.xrole("assume", "--role", "deploy-staging", "--run", run_id,
                                    "--format", "json", token=agent).returncode, EXIT_OK)

        pending = self.xrole("assume", "--role", "deploy-production", "--run", run_id,
                             "--duration", "10m", token=agent, expect=EXIT_PENDING)
        approval_id = pending.stdout.split()[0]
        self.assertTrue(approval_id.startswith("apr-"), pending.stdout)
        self.assertIn("approval required", pending.stderr)

        listed = self.xrole("approvals", "--output", "json", token=carol)
        self.assertIn(approval_id, [a["approvalId"] for a in json.loads(listed.stdout)
                                    ["approvals"]])
        refused = self.xrole("approve", approval_id, token=bob, expect=EXIT_REFUSED)
        self.assertIn("permission_denied", refused.stderr)
        self.assertIn("separation of duties", refused.stderr)
        refused = self.xrole("approve", approval_id, token=agent, expect=EXIT_REFUSED)
        self.assertIn("permission_denied", refused.stderr)
        self.xrole("approve", approval_id, "--reason", "CAB ok", token=carol)

        # A different duration is a different request.
        self.xrole("assume", "--role", "deploy-production", "--run", run_id, "--duration",
                   "15m", "--approval", approval_id, token=agent, expect=EXIT_REFUSED)
        session = self.assume_env("--role", "deploy-production", "--run", run_id, "--duration",
                                  "10m", "--approval", approval_id, token=agent)
        self.assertEqual(self.authorize(session["XROLE_SESSION_TOKEN"],
                                        "lambda:UpdateFunctionCode",
                                        "arn:aws:lambda:eu-west-1:444455556666:function:"
                                        "checkout-api"), "Allowed")
        self.xrole("assume", "--role", "deploy-production", "--run", run_id, "--duration",
                   "10m", "--approval", approval_id, token=agent, expect=EXIT_REFUSED)

    def test_delegation_with_a_session_policy_from_stdin(self):
        agent = self.credentials("agent", "ir-agent")
        run_id = self.xrole("run", "start", "--workflow", "incident-response",
                            token=agent).stdout.splitlines()[0]
        parent = self.assume_env("--role", "incident-responder", "--run", run_id, token=agent)
        policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:TerminateInstances"],
             "Resource": "*"}]})
        result = self.xrole("assume", "--role", "incident-responder", "--run", run_id,
                            "--parent", parent["XROLE_SESSION_ID"], "--policy", "-",
                            "--format", "json", stdin=policy,
                            token=parent["XROLE_SESSION_TOKEN"])
        child = json.loads(result.stdout)
        self.assertEqual(child["parentSessionId"], parent["XROLE_SESSION_ID"])
        token = child["credentials"]["sessionToken"]
        self.assertEqual(self.authorize(token, "ec2:DescribeInstances", "*"), "Allowed")
        self.assertEqual(self.authorize(token, "ec2:StopInstances", INSTANCE, EXIT_REFUSED),
                         "ImplicitlyDenied")
        self.assertEqual(self.authorize(token, "ec2:TerminateInstances", INSTANCE,
                                        EXIT_REFUSED), "ImplicitlyDenied")
        revoked = self.xrole("revoke", "--session", parent["XROLE_SESSION_ID"], "--output",
                             "json", token=agent)
        self.assertEqual(json.loads(revoked.stdout)["revoked"], 2)
        self.authorize(token, "ec2:DescribeInstances", "*", EXIT_REFUSED)

    def test_bad_input_and_errors(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as bad:
            bad.write("apiVersion: xrole/v1\nkind: ExecutionRole\nmetadata:\n  name: cli-bad\n"
                      "spec:\n  account: \"111122223333\"\n  trust:\n    agents: [ir-agent]\n"
                      "  permissions:\n    - Version: \"2012-10-17\"\n      Statement:\n"
                      "        - Effect: Perhaps\n          Action: s3:GetObject\n"
                      "          Resource: \"*\"\n")
        self.addCleanup(os.unlink, bad.name)
        roles_before = self.xrole("roles", "--output", "json").stdout
        # Documents are checked locally before anything is sent: unusable input, exit 2.
        result = self.xrole("apply", "-f", bad.name, expect=EXIT_ERROR)
        self.assertIn(bad.name + ":12", result.stderr)
        self.assertIn("Perhaps", result.stderr)
        self.assertIn("Statement[0].Effect", result.stderr)
        self.assertEqual(self.xrole("roles", "--output", "json").stdout, roles_before)
        # An agent may not apply.
        agent = self.credentials("agent", "ir-agent")
        good = os.path.join(xrole_e2e.SOURCE_DIR, "examples", "roles", "40-remediation.yaml")
        result = self.xrole("apply", "-f", good, token=agent, expect=EXIT_REFUSED)
        self.assertIn("permission_denied", result.stderr)
        dry = self.xrole("apply", "-f", good, "--dry-run")
        self.assertIn("unchanged", dry.stdout)
        # No server there: exit 2, naming it.
        port = xrole_e2e.free_port()
        result = self.xrole("roles", "--server", "http://127.0.0.1:%d" % port,
                            expect=EXIT_ERROR)
        self.assertIn(str(port), result.stderr)
        self.xrole("authorize", "--token", "garbage", "--action", "ec2:StopInstances",
                   "--resource", INSTANCE, expect=EXIT_REFUSED)
        self.xrole("run", "start", "--workflow", "incident-response", "--token",
                   "AKIANOTAKEY:nosecret", expect=EXIT_REFUSED)

    def test_keys_and_audit(self):
        keys = json.loads(self.xrole("keys", "--output", "json").stdout)["keys"]
        self.assertEqual(len(keys), 1)
        rotated = self.xrole("keys", "rotate", "--output", "json")
        new_kid = json.loads(rotated.stdout)["keyId"]
        keys = json.loads(self.xrole("keys", "--output", "json").stdout)["keys"]
        self.assertEqual({k["keyId"]: k["active"] for k in keys}[new_kid], True)
        self.assertEqual(len(keys), 2)

        self.xrole("audit", "verify")
        tail = self.xrole("audit", "tail", "--output", "json")
        records = [json.loads(line) for line in tail.stdout.splitlines() if line.strip()]
        self.assertEqual([r["seq"] for r in records], list(range(1, len(records) + 1)))
        with tempfile.TemporaryDirectory() as directory:
            exported = os.path.join(directory, "audit.jsonl")
            self.xrole("audit", "export", "-o", exported)
            script = os.path.join(xrole_e2e.SOURCE_DIR, "scripts", "audit_verify.py")
            checked = subprocess.run(["python3", script, exported], capture_output=True,
                                     text=True, timeout=60)
            self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
            self.assertTrue(checked.stdout.startswith("ok: "), checked.stdout)
        self.xrole("health")
        metrics = self.xrole("metrics")
        self.assertIn("xrole_audit_last_seq", metrics.stdout)
        # Every record so far went through at least one timed, durable commit.
        values = dict(line.rsplit(" ", 1) for line in metrics.stdout.splitlines()
                      if line and not line.startswith("#"))
        self.assertGreater(int(values["xrole_audit_commits_total"]), 0)
        self.assertGreater(int(values["xrole_audit_records_total"]), 0)
        self.assertEqual(values['xrole_audit_commit_seconds_bucket{le="+Inf"}'],
                         values["xrole_audit_commit_seconds_count"])

    def test_offline_verify_of_a_stopped_server(self):
        server = xrole_e2e.Server()
        self.addCleanup(server.cleanup)
        server.start()
        agent = server.agent("ir-agent")
        run = agent.start_run("incident-response").json["runId"]
        agent.assume("incident-responder", run)
        self.assertEqual(server.stop(), 0)
        result = self.xrole("audit", "verify", "--offline", "--data", server.data_dir,
                            "--output", "json")
        report = json.loads(result.stdout)
        self.assertTrue(report["ok"], report)
        self.assertGreaterEqual(report["checkpoints"], 1)


if __name__ == "__main__":
    xrole_e2e.main()
