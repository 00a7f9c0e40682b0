"""The four example scenarios (examples/roles/) end to end: roles as code loaded at start, runs,
sessions, approvals and decisions over the HTTP API, and the audit record of each assume."""

import xrole_e2e
from xrole_e2e import ServerTestCase

IR_INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc123def4567890"
STAGING_FUNCTION = "arn:aws:lambda:eu-west-1:222233334444:function:checkout-api"
PRODUCTION_FUNCTION = "arn:aws:lambda:eu-west-1:444455556666:function:checkout-api"
RESULTS_QUEUE = "arn:aws:sqs:eu-west-1:111122223333:customer-enrichment-results"

NARROW_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:UpdateFunctionCode",
                   "Resource": PRODUCTION_FUNCTION}],
}


class IncidentResponseTest(ServerTestCase):
    def setUp(self):
        self.agent = self.server.agent("ir-agent")
        _, session = self.start_session(self.agent, "incident-response", "incident-responder")
        self.token = session["credentials"]["sessionToken"]

    def test_isolating_an_instance_in_eu_west_1_is_allowed(self):
        reply = self.assertDecision(self.admin.authorize(self.token, "ec2:StopInstances",
                                                         IR_INSTANCE), "Allowed")
        self.assertIn("IsolateInstances", [r.get("sid") for r in reply.json["reasons"]])
        self.assertDecision(
            self.admin.authorize(self.token, "ec2:ModifyInstanceAttribute", IR_INSTANCE),
            "Allowed")

    def test_instances_outside_the_region_are_not_reachable(self):
        self.assertDecision(
            self.admin.authorize(self.token, "ec2:StopInstances",
                                 "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            "ImplicitlyDenied")
        self.assertDecision(self.admin.authorize(self.token, "ec2:TerminateInstances",
                                                 IR_INSTANCE), "ImplicitlyDenied")

    def test_deleting_a_snapshot_is_denied_by_the_guardrail(self):
        reply = self.assertDecision(
            self.admin.authorize(self.token, "ec2:DeleteSnapshot",
                                 "arn:aws:ec2:eu-west-1::snapshot/snap-0123456789abcdef0"),
            "ExplicitlyDenied")
        deny = [r for r in reply.json["reasons"] if r["effect"] == "Deny"]
        self.assertEqual(len(deny), 1, reply)
        self.assertEqual(deny[0]["name"], "protect-evidence-and-logging")
        self.assertEqual(deny[0]["sid"], "NeverDestroyEvidence")

    def test_stopping_cloudtrail_is_denied_by_the_guardrail(self):
        reply = self.assertDecision(
            self.admin.authorize(self.token, "cloudtrail:StopLogging",
                                 "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"),
            "ExplicitlyDenied")
        deny = [r for r in reply.json["reasons"] if r["effect"] == "Deny"]
        self.assertEqual([(r["name"], r["sid"]) for r in deny],
                         [("protect-evidence-and-logging", "NeverTouchLogging")])

    def test_snapshot_evidence_is_allowed_but_tagging_only_at_creation(self):
        snapshot = "arn:aws:ec2:eu-west-1::snapshot/snap-1"
        self.assertDecision(self.admin.authorize(
            self.token, "ec2:CreateSnapshot",
            "arn:aws:ec2:eu-west-1:111122223333:volume/vol-1"), "Allowed")
        self.assertDecision(self.admin.authorize(
            self.token, "ec2:CreateTags", snapshot,
            context={"ec2:CreateAction": "CreateSnapshot"}), "Allowed")
        self.assertDecision(self.admin.authorize(self.token, "ec2:CreateTags", snapshot),
                            "ImplicitlyDenied")

    def test_the_session_token_works_as_bearer_for_its_own_decisions(self):
        # An enforcement point may hold only the session token: authorize needs no API key.
        reply = self.server.client().authorize(self.token, "ec2:StopInstances", IR_INSTANCE,
                                               token="")
        self.assertDecision(reply, "Allowed")

    def test_another_agent_cannot_assume_the_role(self):
        other = self.server.agent("code-agent")
        run = other.start_run("code-deploy")
        self.assertStatus(run, 201)
        reply = other.assume("incident-responder", run.json["runId"])
        self.assertStatus(reply, 403, "permission_denied", "does not list role")
        # Nor in the incident-response workflow: the agent is not the run's agent.
        ir_run = self.agent.start_run("incident-response").json["runId"]
        self.assertStatus(other.assume("incident-responder", ir_run), 403, "permission_denied",
                          "is not the agent of run")
        # Nor start a run as the incident agent.
        self.assertStatus(other.start_run("incident-response", agent="ir-agent"), 403,
                          "permission_denied")


class CodeDeployTest(ServerTestCase):
    def setUp(self):
        self.agent = self.server.agent("code-agent")

    def test_staging_deploys_without_approval(self):
        _, session = self.start_session(self.agent, "code-deploy", "deploy-staging",
                                        run_fields={"agent": "code-agent"},
                                        starter=self.server.human("alice"))
        token = session["credentials"]["sessionToken"]
        self.assertEqual(session["role"], "deploy-staging")
        self.assertDecision(self.admin.authorize(token, "lambda:UpdateFunctionCode",
                                                 STAGING_FUNCTION), "Allowed")
        self.assertDecision(self.admin.authorize(token, "lambda:UpdateFunctionCode",
                                                 PRODUCTION_FUNCTION), "ImplicitlyDenied")

    def test_production_needs_an_independent_approval_bound_to_the_request(self):
        # bob starts the run for the agent: he is its initiator.
        run = self.server.human("bob").start_run("code-deploy", agent="code-agent",
                                                 tags={"change-ticket": "CHG-4711"})
        self.assertStatus(run, 201)
        self.assertEqual(run.json["onBehalfOf"], "bob")
        run_id = run.json["runId"]

        pending = self.agent.assume("deploy-production", run_id, durationSeconds=600,
                                    policy=NARROW_POLICY)
        self.assertEqual(pending.status, 202, pending)
        self.assertEqual(pending.json["status"], "pending")
        approval_id = pending.json["approvalId"]
        self.assertGreater(pending.json["auditId"], 0)

        # A pending approval issues nothing yet.
        self.assertStatus(self.agent.assume("deploy-production", run_id, durationSeconds=600,
                                            policy=NARROW_POLICY, approvalId=approval_id),
                          403, "permission_denied", "is pending")

        listed = self.server.human("carol").get("/v1/approvals")
        self.assertStatus(listed, 200)
        mine = [a for a in listed.json["approvals"] if a["approvalId"] == approval_id]
        self.assertEqual(len(mine), 1, listed)
        self.assertEqual(mine[0]["role"], "deploy-production")
        self.assertEqual(mine[0]["durationSeconds"], 600)
        self.assertEqual(mine[0]["status"], "pending")
        self.assertStatus(self.agent.get("/v1/approvals"), 403, "permission_denied")

        approve = "/v1/approvals/%s/approve" % approval_id
        # bob started the run: separation of duties.
        self.assertStatus(self.server.human("bob").post(approve, {"reason": "lgtm"}), 403,
                          "permission_denied", "started run")
        # alice sponsors the agent: whether or not she may approve in general, she may not
        # approve for her own agent.
        alice = ("apiVersion: xrole/v1\nkind: Human\nmetadata:\n  name: alice\n"
                 "spec:\n  email: alice@example.com\n  canApprove: %s\n")
        self.assertStatus(self.admin.apply(alice % "false"), 200)
        self.assertStatus(self.server.human("alice").post(approve), 403, "permission_denied",
                          "may not approve")
        self.assertStatus(self.admin.apply(alice % "true"), 200)
        self.assertStatus(self.server.human("alice").post(approve), 403, "permission_denied",
                          "sponsors agent `code-agent`")
        # Neither the agent, its session, nor the admin decides approvals.
        self.assertStatus(self.agent.post(approve), 403, "permission_denied",
                          "only a human may decide approvals")
        self.assertStatus(self.admin.post(approve), 403, "permission_denied",
                          "only a human may decide approvals")
        self.assertStatus(self.server.human("carol").post("/v1/approvals/apr-nonexistent/approve"),
                          404, "not_found")

        carol = self.server.human("carol")
        decided = carol.post(approve, {"reason": "CHG-4711 approved in CAB"})
        self.assertStatus(decided, 200)
        self.assertEqual(decided.json["status"], "approved")
        self.assertEqual(decided.json["decidedBy"], "carol")
        self.assertStatus(carol.post(approve), 409, "conflict", "already approved")

        # Redeeming: only the identical request.
        self.assertStatus(self.agent.assume("deploy-production", run_id, durationSeconds=900,
                                            policy=NARROW_POLICY, approvalId=approval_id),
                          403, "permission_denied", "different request")
        self.assertStatus(self.agent.assume("deploy-production", run_id, durationSeconds=600,
                                            approvalId=approval_id),
                          403, "permission_denied", "different request")
        for extra in ({"sessionName": "renamed"}, {"tags": {"purpose": "hotfix"}},
                      {"sourceIdentity": "someone-else"}):
            self.assertStatus(self.agent.assume("deploy-production", run_id,
                                                durationSeconds=600, policy=NARROW_POLICY,
                                                approvalId=approval_id, **extra),
                              403, "permission_denied", "different request")
        wider = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}
        self.assertStatus(self.agent.assume("deploy-production", run_id, durationSeconds=600,
                                            policy=wider, approvalId=approval_id),
                          403, "permission_denied", "different request")

        session = self.agent.assume("deploy-production", run_id, durationSeconds=600,
                                    policy=NARROW_POLICY, approvalId=approval_id)
        self.assertStatus(session, 201)
        token = session.json["credentials"]["sessionToken"]
        self.assertDecision(self.admin.authorize(token, "lambda:UpdateFunctionCode",
                                                 PRODUCTION_FUNCTION), "Allowed")
        # The role allows PublishVersion, the approved session policy does not.
        self.assertDecision(self.admin.authorize(token, "lambda:PublishVersion",
                                                 PRODUCTION_FUNCTION), "ImplicitlyDenied")

        # An approval is used once.
        self.assertStatus(self.agent.assume("deploy-production", run_id, durationSeconds=600,
                                            policy=NARROW_POLICY, approvalId=approval_id),
                          403, "permission_denied", "is used")

        # The audit log names the approver and the redeemed approval.
        records = self.admin.audit_records()
        approvals = [r for r in records if r["type"] == "approval.approve"
                     and r["event"].get("outcome") == "approved"]
        self.assertTrue(any(r["event"]["details"]["approvalId"] == approval_id
                            and r["event"]["actor"]["human"] == "carol" for r in approvals))
        assume = [r for r in records if r["seq"] == session.json["auditId"]]
        self.assertEqual(assume[0]["event"]["details"]["approvalId"], approval_id)

    def test_the_run_initiator_is_authenticated_not_claimed(self):
        self.assertStatus(self.agent.start_run("code-deploy", on_behalf_of="bob"), 403,
                          "permission_denied", "on behalf of a human")
        carol = self.server.human("carol")
        self.assertStatus(carol.start_run("code-deploy", agent="code-agent",
                                          on_behalf_of="bob"), 403, "permission_denied")
        self.assertStatus(carol.start_run("code-deploy"), 400, "invalid_argument")
        own = carol.start_run("code-deploy", agent="code-agent")
        self.assertStatus(own, 201)
        self.assertEqual((own.json["agent"], own.json["onBehalfOf"]), ("code-agent", "carol"))
        by_admin = self.admin.start_run("code-deploy", agent="code-agent", on_behalf_of="bob")
        self.assertStatus(by_admin, 201)
        self.assertEqual(by_admin.json["onBehalfOf"], "bob")
        # The agent works in a run a human started for it; another agent does not.
        self.assertStatus(self.agent.assume("deploy-staging", own.json["runId"]), 201)
        self.assertStatus(self.server.agent("ir-agent").assume("deploy-staging",
                                                               own.json["runId"]),
                          403, "permission_denied")

    def test_a_denied_approval_cannot_be_redeemed(self):
        run = self.agent.start_run("code-deploy", tags={"change-ticket": "CHG-9"})
        run_id = run.json["runId"]
        pending = self.agent.assume("deploy-production", run_id)
        self.assertEqual(pending.status, 202, pending)
        approval_id = pending.json["approvalId"]
        bob = self.server.human("bob")
        denied = bob.post("/v1/approvals/%s/deny" % approval_id, {"reason": "no CAB slot"})
        self.assertStatus(denied, 200)
        self.assertEqual((denied.json["status"], denied.json["decidedBy"],
                          denied.json["reason"]), ("denied", "bob", "no CAB slot"))
        self.assertStatus(bob.post("/v1/approvals/%s/approve" % approval_id), 409, "conflict",
                          "already denied")
        self.assertStatus(self.agent.assume("deploy-production", run_id,
                                            approvalId=approval_id),
                          403, "permission_denied", "is denied")
        self.assertStatus(self.agent.assume("deploy-production", run_id,
                                            approvalId="apr-unknown"),
                          403, "permission_denied", "no approval")
        # Pending list no longer shows it; the full list does.
        pending_ids = [a["approvalId"] for a in bob.get("/v1/approvals").json["approvals"]]
        self.assertNotIn(approval_id, pending_ids)
        all_ids = [a["approvalId"] for a in bob.get("/v1/approvals?all").json["approvals"]]
        self.assertIn(approval_id, all_ids)

    def test_production_trust_requires_a_change_ticket_on_the_run(self):
        untagged = self.agent.start_run("code-deploy")
        self.assertStatus(untagged, 201)
        self.assertStatus(self.agent.assume("deploy-production", untagged.json["runId"]), 403,
                          "permission_denied", "trust policy of role `deploy-production`")
        wrong = self.agent.start_run("code-deploy", tags={"change-ticket": "INC-12"})
        self.assertStatus(self.agent.assume("deploy-production", wrong.json["runId"]), 403,
                          "permission_denied", "trust policy")
        # With the ticket, the request goes to approval.
        tagged = self.agent.start_run("code-deploy", tags={"change-ticket": "CHG-1"})
        self.assertEqual(self.agent.assume("deploy-production", tagged.json["runId"]).status,
                         202)

    def test_production_role_description_shows_approval_and_boundary(self):
        role = self.admin.get("/v1/roles/deploy-production")
        self.assertStatus(role, 200)
        self.assertTrue(role.json["approvalRequired"])
        self.assertTrue(role.json["blastRadius"]["boundary"])
        self.assertEqual(role.json["workflows"], ["code-deploy"])


class DataEnrichmentTest(ServerTestCase):
    def setUp(self):
        agent = self.server.agent("enrich-agent")
        _, session = self.start_session(agent, "data-enrichment", "enrich-reader-writer")
        self.token = session["credentials"]["sessionToken"]

    def decide(self, action, resource, context=None):
        return self.admin.authorize(self.token, action, resource, context=context)

    def test_reads_only_its_dataset_prefix(self):
        self.assertDecision(self.decide("s3:GetObject",
                                        "arn:aws:s3:::datasets/customer-2026/part-0001.parquet"),
                            "Allowed")
        for neighbour in ("arn:aws:s3:::datasets/customer-2025/part-0001.parquet",
                          "arn:aws:s3:::datasets/warehouse/orders.parquet",
                          "arn:aws:s3:::warehouse/customer-2026/part-0001.parquet"):
            self.assertDecision(self.decide("s3:GetObject", neighbour), "ImplicitlyDenied")
        self.assertDecision(self.decide("s3:PutObject",
                                        "arn:aws:s3:::datasets/customer-2026/part-0001.parquet"),
                            "ImplicitlyDenied")

    def test_lists_only_its_prefix(self):
        self.assertDecision(self.decide("s3:ListBucket", "arn:aws:s3:::datasets",
                                        {"s3:prefix": "customer-2026/"}), "Allowed")
        self.assertDecision(self.decide("s3:ListBucket", "arn:aws:s3:::datasets",
                                        {"s3:prefix": "warehouse/"}), "ImplicitlyDenied")
        self.assertDecision(self.decide("s3:ListBucket", "arn:aws:s3:::datasets"),
                            "ImplicitlyDenied")

    def test_sends_only_to_its_queue(self):
        self.assertDecision(self.decide("sqs:SendMessage", RESULTS_QUEUE), "Allowed")
        self.assertDecision(
            self.decide("sqs:SendMessage", "arn:aws:sqs:eu-west-1:111122223333:billing-events"),
            "ImplicitlyDenied")
        self.assertDecision(self.decide("sqs:DeleteQueue", RESULTS_QUEUE), "ImplicitlyDenied")

    def test_caller_context_cannot_claim_another_principal(self):
        # Broker-owned keys in the request context are replaced, not trusted.
        reply = self.decide("s3:GetObject", "arn:aws:s3:::datasets/customer-2025/x",
                            {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/admin",
                             "xrole:Agent": "ir-agent"})
        self.assertDecision(reply, "ImplicitlyDenied")


class RemediationTest(ServerTestCase):
    def setUp(self):
        agent = self.server.agent("remediation-agent")
        _, session = self.start_session(agent, "remediation", "remediation-tagger")
        self.token = session["credentials"]["sessionToken"]

    def test_role_objective_is_visible(self):
        role = self.admin.get("/v1/roles/remediation-tagger")
        self.assertStatus(role, 200)
        self.assertIn("NIST CSF 2.0 PR.PS-01", role.json["objective"])
        self.assertIn("CIS Controls v8", role.json["objective"])
        self.assertEqual(role.json["owner"], "secops@example.com")
        self.assertEqual(role.json["tags"]["control"], "PR.PS-01")
        self.assertEqual(role.json["workflows"], ["remediation"])
        self.assertEqual([p["name"] for p in role.json["permissions"]], ["tag-and-snapshot"])
        listed = self.admin.get("/v1/roles")
        self.assertIn("remediation-tagger", [r["name"] for r in listed.json["roles"]])
        self.assertStatus(self.admin.get("/v1/roles/no-such-role"), 404, "not_found")

    def test_ownership_tagging_is_allowed(self):
        instance = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"
        self.assertDecision(self.admin.authorize(self.token, "ec2:CreateTags", instance,
                                                 context={"aws:TagKeys": ["owner", "cost-center"]}),
                            "Allowed")
        self.assertDecision(self.admin.authorize(self.token, "ec2:CreateTags", instance,
                                                 context={"aws:TagKeys": ["owner", "admin"]}),
                            "ImplicitlyDenied")
        self.assertDecision(self.admin.authorize(
            self.token, "ec2:CreateTags", "arn:aws:ec2:eu-west-1:999988887777:instance/i-0abc",
            context={"aws:TagKeys": ["owner"]}), "ImplicitlyDenied")

    def test_deleting_is_denied(self):
        reply = self.assertDecision(
            self.admin.authorize(self.token, "ec2:DeleteVolume",
                                 "arn:aws:ec2:eu-west-1:111122223333:volume/vol-1"),
            "ExplicitlyDenied")
        self.assertIn("protect-evidence-and-logging",
                      [r.get("name") for r in reply.json["reasons"]])
        self.assertDecision(
            self.admin.authorize(self.token, "ec2:DeleteSnapshot",
                                 "arn:aws:ec2:eu-west-1::snapshot/snap-1"),
            "ExplicitlyDenied")
        self.assertDecision(
            self.admin.authorize(self.token, "ec2:TerminateInstances",
                                 "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"),
            "ImplicitlyDenied")


class AuditTrailTest(ServerTestCase):
    def test_each_assume_record_carries_the_actor_chain(self):
        agent = self.server.agent("ir-agent")
        run, session = self.start_session(agent, "incident-response", "incident-responder",
                                          run_fields={"agent": "ir-agent"},
                                          starter=self.server.human("bob"))
        token = session["credentials"]["sessionToken"]
        decision = self.assertDecision(
            self.admin.authorize(token, "ec2:StopInstances", IR_INSTANCE), "Allowed")
        records = {r["seq"]: r for r in self.admin.audit_records()}

        assume = records[session["auditId"]]
        self.assertEqual(assume["type"], "session.assume")
        event = assume["event"]
        self.assertEqual(event["actor"]["human"], "bob")
        self.assertEqual(event["actor"]["agent"], "ir-agent")
        self.assertEqual(event["actor"]["session"], session["sessionId"])
        self.assertEqual(event["actor"]["principal"], "agent:ir-agent")
        self.assertEqual(event["run"], run["runId"])
        self.assertEqual(event["role"], "incident-responder")
        self.assertEqual(event["policyHash"], session["policyHash"])
        self.assertEqual(event["outcome"], "ok")
        # Secrets never reach the audit log.
        self.assertNotIn(session["credentials"]["secretAccessKey"], str(assume))
        self.assertNotIn(token, str(assume))

        authorize = records[decision.json["auditId"]]
        self.assertEqual(authorize["type"], "authorize")
        self.assertEqual(authorize["event"]["actor"]["human"], "bob")
        self.assertEqual(authorize["event"]["actor"]["session"], session["sessionId"])
        self.assertEqual(authorize["event"]["outcome"], "Allowed")
        self.assertEqual(authorize["event"]["policyHash"], session["policyHash"])

        # Every record links to the one before it.
        ordered = [records[seq] for seq in sorted(records)]
        self.assertEqual([r["seq"] for r in ordered], list(range(1, len(ordered) + 1)))
        for previous, record in zip(ordered, ordered[1:]):
            self.assertEqual(record["prevHash"], previous["hash"])

        verify = self.admin.verify_audit()
        self.assertStatus(verify, 200)
        self.assertTrue(verify.json["ok"])
        self.assertEqual(verify.json["problems"], [])
        self.assertGreaterEqual(verify.json["lastSeq"], decision.json["auditId"])

    def test_agents_cannot_read_the_audit_log(self):
        agent = self.server.agent("ir-agent")
        self.assertStatus(agent.get("/v1/audit"), 403, "permission_denied")
        self.assertStatus(agent.get("/v1/audit/verify"), 403, "permission_denied")
        self.assertStatus(self.server.human("carol").get("/v1/audit/verify"), 200)


if __name__ == "__main__":
    xrole_e2e.main()
