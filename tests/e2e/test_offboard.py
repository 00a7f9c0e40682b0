"""`xrole offboard` (POST /v1/offboard) and `xrole review` (GET /v1/review) against a running
server, over HTTP and through the command line: an offboarded agent, role or workflow leaves no
session, run, key or approval that still works, in one audited step that keeps the audit chain
intact; a re-registered agent starts with nothing; a role a workflow still lists is refused; the
review lists what owners should look at and exits 1 until there is nothing left."""

import json
import os
import shutil
import subprocess
import tempfile

import xrole_e2e
from xrole_e2e import ServerTestCase

DATASET_OBJECT = "arn:aws:s3:::datasets/customer-2026/part-0001.parquet"
VOLUME = "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0abc"
EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2

ENRICH_AGENT = """apiVersion: xrole/v1
kind: Agent
metadata:
  name: enrich-agent
  owner: data-platform@example.com
spec:
  sponsor: alice
"""


class CliMixin:
    """`xrole` subprocesses against the class's server, with the admin token of its data
    directory unless a token is given."""

    def xrole(self, *args, expect=EXIT_OK, token=None):
        env = {k: v for k, v in os.environ.items() if k not in ("XROLE_TOKEN",)}
        env["XROLE_SERVER"] = "http://127.0.0.1:%d" % self.server.port
        env["XROLE_DATA"] = self.server.data_dir
        command = [xrole_e2e.XROLE] + list(args)
        if token is not None:
            command += ["--token", token]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(result.returncode, expect,
                         "xrole %s\nstdout: %s\nstderr: %s" % (" ".join(args), result.stdout,
                                                               result.stderr))
        return result


class OffboardTest(CliMixin, ServerTestCase):
    def offboard(self, kind, name, client=None, **extra):
        body = {"kind": kind, "name": name}
        body.update(extra)
        return (client or self.admin).post("/v1/offboard", body)

    def test_agent_over_http_then_onboarded_afresh(self):
        enrich = self.server.agent("enrich-agent")
        run, session = self.start_session(enrich, "data-enrichment", "enrich-reader-writer")
        token = session["credentials"]["sessionToken"]
        self.assertDecision(self.admin.authorize(token, "s3:GetObject", DATASET_OBJECT), "Allowed")
        agent_key = enrich.token.split(":")[0]

        reply = self.offboard("agent", "enrich-agent", reason="credentials leaked")
        self.assertStatus(reply, 200)
        result = reply.json
        self.assertEqual(result["deleted"], "Agent/enrich-agent")
        self.assertEqual(result["reason"], "credentials leaked")
        self.assertEqual(result["revokedSessions"], [session["sessionId"]])
        self.assertEqual(result["endedRuns"], [run["runId"]])
        self.assertEqual(sorted(result["retiredKeys"]), sorted([agent_key, run["accessKeyId"]]))
        self.assertEqual(result["cancelledApprovals"], [])
        self.assertEqual(result["rewrittenRoles"], ["enrich-reader-writer"])
        self.assertEqual(result["counts"], {"revokedSessions": 1, "endedRuns": 1,
                                            "retiredKeys": 2, "cancelledApprovals": 0,
                                            "rewrittenRoles": 1})
        self.assertGreater(result["auditId"], 0)

        # Nothing of it works any more: its session, its key, its run.
        self.assertRejected(self.admin.authorize(token, "s3:GetObject", DATASET_OBJECT), "revoked")
        self.assertStatus(enrich.start_run("data-enrichment"), 401)
        self.assertEqual(self.admin.get("/v1/runs/" + run["runId"]).json["status"], "revoked")
        # The role still trusts exactly whom it trusted, now as a written-out IAM document.
        role = self.admin.get("/v1/roles/enrich-reader-writer").json
        principals = role["trust"]["Statement"][0]["Principal"]["AWS"]
        self.assertEqual(principals, ["arn:aws:iam::111122223333:user/xrole/agent/enrich-agent"])
        # One audit record says what was done.
        record = [r for r in self.admin.audit_records() if r["type"] == "offboard"][-1]
        self.assertEqual(record["event"]["details"]["counts"], result["counts"])
        self.assertEqual(record["seq"], result["auditId"])

        # Registered again, it starts from nothing: the old key stays dead, a new one works.
        self.assertStatus(self.admin.apply(ENRICH_AGENT), 200)
        self.assertStatus(enrich.start_run("data-enrichment"), 401)
        fresh = self.server.agent("enrich-agent")
        _, again = self.start_session(fresh, "data-enrichment", "enrich-reader-writer")
        self.assertDecision(self.admin.authorize(again["credentials"]["sessionToken"],
                                                 "s3:GetObject", DATASET_OBJECT), "Allowed")
        self.assertRejected(self.admin.authorize(token, "s3:GetObject", DATASET_OBJECT), "revoked")

    def test_workflow_then_role_with_the_cli(self):
        remediation = self.server.agent("remediation-agent")
        _, session = self.start_session(remediation, "remediation", "remediation-tagger")
        token = session["credentials"]["sessionToken"]
        self.assertDecision(self.admin.authorize(token, "ec2:CreateSnapshot", VOLUME), "Allowed")

        # The workflow still lists the role: refused, and nothing changes.
        refused = self.xrole("offboard", "role", "remediation-tagger", expect=EXIT_REFUSED)
        self.assertIn("conflict", refused.stderr)
        self.assertIn("`remediation`", refused.stderr)
        self.assertDecision(self.admin.authorize(token, "ec2:CreateSnapshot", VOLUME), "Allowed")
        self.assertStatus(self.admin.get("/v1/roles/remediation-tagger"), 200)

        out = self.xrole("offboard", "workflow", "remediation", "--reason", "retired").stdout
        self.assertIn("offboarded Workflow/remediation", out)
        self.assertIn(session["sessionId"], out)
        self.assertRejected(self.admin.authorize(token, "ec2:CreateSnapshot", VOLUME), "revoked")
        self.assertStatus(remediation.start_run("remediation"), 404)

        # Now the role can go; --output json prints the API's answer unchanged.
        out = self.xrole("offboard", "role", "remediation-tagger", "--output", "json").stdout
        result = json.loads(out)
        self.assertEqual(result["deleted"], "ExecutionRole/remediation-tagger")
        self.assertEqual(result["revokedSessions"], [])  # the workflow's offboard took them
        self.assertStatus(self.admin.get("/v1/roles/remediation-tagger"), 404)

        self.assertIn("ok", self.xrole("audit", "verify").stdout.lower())

    def test_apply_delete_retires_a_principals_keys(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as principals:
            principals.write("apiVersion: xrole/v1\nkind: Human\nmetadata: {name: frank}\n"
                             "spec: {email: frank@example.com}\n---\n"
                             "apiVersion: xrole/v1\nkind: Agent\nmetadata: {name: scratch}\n"
                             "spec: {sponsor: alice}\n")
        self.addCleanup(os.unlink, principals.name)
        self.xrole("apply", "-f", principals.name)
        frank = self.server.human("frank")
        scratch = self.server.agent("scratch")
        keys = sorted(client.token.split(":")[0] for client in (frank, scratch))
        self.assertStatus(frank.get("/v1/review"), 200)

        # An agent in the middle of a run is not deleted by an apply, nor is anything else in it.
        run = scratch.start_run("data-enrichment")
        self.assertStatus(run, 201)
        refused = self.xrole("apply", "--delete", "Agent/scratch,Human/frank", expect=EXIT_REFUSED)
        self.assertIn("live run", refused.stderr)
        self.assertIn("xrole offboard agent scratch", refused.stderr)
        self.assertStatus(frank.get("/v1/review"), 200)

        # With the run over, both go, and their keys with them.
        self.assertStatus(scratch.post("/v1/runs/%s/end" % run.json["runId"]), 200)
        out = self.xrole("apply", "--delete", "Agent/scratch,Human/frank").stdout
        for key in keys:
            self.assertIn("retired access key " + key, out)
        self.assertStatus(frank.get("/v1/review"), 401)
        self.assertStatus(scratch.start_run("data-enrichment"), 401)
        # Registered again, the names do not bring the old keys back.
        self.xrole("apply", "-f", principals.name)
        self.assertStatus(frank.get("/v1/review"), 401)
        self.assertStatus(scratch.start_run("data-enrichment"), 401)
        self.xrole("apply", "--delete", "Agent/scratch,Human/frank")

    def test_who_may_and_what_is_refused(self):
        ir = self.server.agent("ir-agent")
        self.assertStatus(self.offboard("agent", "ir-agent", client=ir), 403,
                          "permission_denied")
        self.assertStatus(self.offboard("agent", "ir-agent", client=self.server.human("carol")),
                          403, "permission_denied")
        self.xrole("offboard", "agent", "code-agent", token=ir.token, expect=EXIT_REFUSED)
        self.assertStatus(self.offboard("human", "bob"), 400, "invalid_argument")
        self.assertStatus(self.offboard("agent", "ir-agent", reson="typo"), 400,
                          "invalid_argument", "reson")
        self.assertStatus(self.admin.post("/v1/offboard", {"kind": "agent"}), 400,
                          "invalid_argument")
        self.assertStatus(self.offboard("agent", "no-such-agent"), 404, "not_found",
                          "no agent named `no-such-agent`")
        missing = self.xrole("offboard", "workflow", "no-such-workflow", expect=EXIT_REFUSED)
        self.assertIn("not_found", missing.stderr)
        self.xrole("offboard", "human", "bob", expect=EXIT_ERROR)  # not a kind the CLI takes
        # Nothing was offboarded by any of these.
        self.assertStatus(self.admin.get("/v1/roles/incident-responder"), 200)
        self.assertEqual(ir.start_run("incident-response").status, 201)

    def test_review_of_the_examples(self):
        reply = self.admin.get("/v1/review")
        self.assertStatus(reply, 200)
        self.assertEqual(reply.json["staleDays"], 30)
        self.assertTrue(reply.json["findings"])
        for finding in reply.json["findings"]:
            self.assertEqual(set(finding), {"kind", "name", "code", "detail", "action"}, finding)
        self.assertEqual(self.server.human("alice").get("/v1/review?staleDays=7").status, 200)
        self.assertStatus(self.server.agent("ir-agent").get("/v1/review"), 403,
                          "permission_denied")
        self.assertStatus(self.admin.get("/v1/review?staleDays=0"), 400, "invalid_argument")
        self.assertStatus(self.admin.get("/v1/review?staleDays=soon"), 400, "invalid_argument")
        out = self.xrole("review", "--output", "json", expect=EXIT_REFUSED).stdout
        self.assertTrue(json.loads(out)["findings"])
        self.assertIn("SUGGESTED ACTION", self.xrole("review", expect=EXIT_REFUSED).stdout)


# One owned, sponsored, dated role and agent: the review finds only that they were never used.
SMALL_CATALOG = """apiVersion: xrole/v1
kind: Human
metadata: {name: alice}
spec: {email: alice@example.com}
---
apiVersion: xrole/v1
kind: Agent
metadata: {name: bot}
spec: {sponsor: alice}
---
apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: reader, owner: data@example.com}
spec:
  reviewBy: 2099-12-31
  trust: {agents: [bot], workflows: [nightly]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*"}]
---
apiVersion: xrole/v1
kind: Workflow
metadata: {name: nightly}
spec: {roles: [reader]}
"""

UNOWNED_ROLE = """apiVersion: xrole/v1
kind: ExecutionRole
metadata: {name: forgotten}
spec:
  trust: {agents: [bot]}
  permissions:
    - Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: s3:PutObject, Resource: "arn:aws:s3:::data/*"}]
"""


class ReviewTest(CliMixin, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.catalog_dir = tempfile.mkdtemp(prefix="xrole-e2e-review-")
        path = os.path.join(cls.catalog_dir, "catalog.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(SMALL_CATALOG)
        server = xrole_e2e.Server(load=[path])
        try:
            server.start()
        except Exception:
            server.cleanup()
            shutil.rmtree(cls.catalog_dir, ignore_errors=True)
            raise
        cls.server = server
        cls.admin = server.admin()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.catalog_dir, ignore_errors=True)

    def codes(self):
        reply = self.admin.get("/v1/review")
        self.assertStatus(reply, 200)
        return sorted((f["kind"], f["name"], f["code"]) for f in reply.json["findings"])

    def test_exit_status_follows_the_findings(self):
        self.assertEqual(self.codes(), [("agent", "bot", "never_active"),
                                        ("role", "reader", "never_assumed")])
        self.assertIn("never_assumed", self.xrole("review", expect=EXIT_REFUSED).stdout)

        # Used: clean, exit 0.
        run = self.admin.start_run("nightly", agent="bot")
        self.assertStatus(run, 201)
        self.assertStatus(self.admin.assume("reader", run.json["runId"]), 201)
        self.assertEqual(self.codes(), [])
        self.assertIn("nothing to review", self.xrole("review").stdout)
        self.xrole("review", "--stale-days", "1")

        # A role nobody owns or uses: the review says so and what to run; running it cleans up.
        self.assertStatus(self.admin.apply(UNOWNED_ROLE), 200)
        reply = self.admin.get("/v1/review").json
        self.assertEqual(sorted(f["code"] for f in reply["findings"]),
                         ["never_assumed", "no_owner"])
        action = [f["action"] for f in reply["findings"] if f["code"] == "never_assumed"][0]
        self.assertEqual(action, "xrole offboard role forgotten")
        self.xrole("review", expect=EXIT_REFUSED)
        self.xrole(*action.split()[1:])
        self.assertEqual(self.codes(), [])
        self.xrole("review")
        self.xrole("audit", "verify")


if __name__ == "__main__":
    xrole_e2e.main()
