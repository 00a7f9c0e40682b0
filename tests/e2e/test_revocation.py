"""Revocation of every kind (session, run, agent, role), ending runs, who may do which, and
session expiry."""

import time

import xrole_e2e
from xrole_e2e import ServerTestCase

INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"
DATASET_OBJECT = "arn:aws:s3:::datasets/customer-2026/part-0001.parquet"


class RevocationTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ir = cls.server.agent("ir-agent")
        cls.enrich = cls.server.agent("enrich-agent")

    def ir_session(self, run_id=None, **fields):
        if run_id is None:
            run = self.ir.start_run("incident-response")
            self.assertStatus(run, 201)
            run_id = run.json["runId"]
        session = self.ir.assume("incident-responder", run_id, **fields)
        self.assertStatus(session, 201)
        return run_id, session.json["sessionId"], session.json["credentials"]["sessionToken"]

    def stop_instance(self, token):
        return self.admin.authorize(token, "ec2:StopInstances", INSTANCE)

    def test_revoking_a_session(self):
        _, session_id, token = self.ir_session()
        _, other_id, other_token = self.ir_session()
        self.assertDecision(self.stop_instance(token), "Allowed")
        reply = self.ir.revoke(sessionId=session_id, reason="suspected leak")
        self.assertStatus(reply, 200)
        self.assertEqual(reply.json["revoked"], 1)
        rejected = self.assertRejected(self.stop_instance(token), "revoked")
        self.assertIn("suspected leak", rejected.json["error"]["message"])
        # Only that session.
        self.assertDecision(self.stop_instance(other_token), "Allowed")
        # Revoking again changes nothing; the record says why and when.
        self.assertEqual(self.ir.revoke(sessionId=session_id).json["revoked"], 0)
        record = self.admin.get("/v1/sessions/" + session_id)
        self.assertStatus(record, 200)
        self.assertEqual(record.json["status"], "revoked")
        self.assertEqual(record.json["revokeReason"], "suspected leak")
        # The access-key form is revoked too.
        access_key = self.admin.get("/v1/sessions/" + session_id).json["accessKeyId"]
        reply = self.admin.post("/v1/authorize", {"accessKeyId": access_key,
                                                  "action": "ec2:StopInstances",
                                                  "resource": INSTANCE})
        self.assertRejected(reply, "revoked")

    def test_revoking_a_run(self):
        run_id, _, first = self.ir_session()
        _, _, second = self.ir_session(run_id)
        _, _, elsewhere = self.ir_session()
        reply = self.ir.revoke(runId=run_id)
        self.assertStatus(reply, 200)
        self.assertEqual(reply.json["revoked"], 2)
        self.assertRejected(self.stop_instance(first), "revoked")
        self.assertRejected(self.stop_instance(second), "revoked")
        self.assertDecision(self.stop_instance(elsewhere), "Allowed")
        run = self.admin.get("/v1/runs/" + run_id)
        self.assertEqual(run.json["status"], "revoked")
        self.assertEqual(run.json["endedBy"], "agent:ir-agent")
        # A revoked run issues nothing more.
        self.assertStatus(self.ir.assume("incident-responder", run_id), 403,
                          "permission_denied", "is not active")

    def test_revoking_an_agent(self):
        _, _, ir_token = self.ir_session()
        _, enrich_session = self.start_session(self.enrich, "data-enrichment",
                                               "enrich-reader-writer")
        enrich_token = enrich_session["credentials"]["sessionToken"]
        # Only the admin revokes by agent.
        self.assertStatus(self.ir.revoke(agent="enrich-agent"), 403, "permission_denied")
        self.assertStatus(self.ir.revoke(agent="ir-agent"), 403, "permission_denied")
        reply = self.admin.revoke(agent="enrich-agent", reason="agent compromised")
        self.assertStatus(reply, 200)
        self.assertGreaterEqual(reply.json["revoked"], 1)
        self.assertRejected(self.admin.authorize(enrich_token, "s3:GetObject", DATASET_OBJECT),
                            "revoked")
        self.assertDecision(self.stop_instance(ir_token), "Allowed")
        self.assertStatus(self.admin.revoke(agent="no-such-agent"), 404, "not_found")

    def test_revoking_a_role(self):
        _, _, ir_token = self.ir_session()
        _, enrich_session = self.start_session(self.enrich, "data-enrichment",
                                               "enrich-reader-writer")
        enrich_token = enrich_session["credentials"]["sessionToken"]
        self.assertStatus(self.ir.revoke(role="incident-responder"), 403, "permission_denied")
        reply = self.admin.revoke(role="incident-responder")
        self.assertStatus(reply, 200)
        self.assertGreaterEqual(reply.json["revoked"], 1)
        self.assertRejected(self.stop_instance(ir_token), "revoked")
        self.assertDecision(self.admin.authorize(enrich_token, "s3:GetObject", DATASET_OBJECT),
                            "Allowed")
        self.assertStatus(self.admin.revoke(role="no-such-role"), 404, "not_found")
        # Sessions issued after the revocation work.
        _, _, fresh = self.ir_session()
        self.assertDecision(self.stop_instance(fresh), "Allowed")

    def test_revoke_takes_exactly_one_target(self):
        self.assertStatus(self.admin.revoke(), 400, "invalid_argument", "exactly one")
        self.assertStatus(self.admin.revoke(agent="ir-agent", role="incident-responder"), 400,
                          "invalid_argument")
        self.assertStatus(self.admin.revoke(sessionId="ses-unknown"), 404, "not_found")
        self.assertStatus(self.admin.revoke(runId="run-unknown"), 404, "not_found")
        self.assertStatus(self.server.client().revoke(agent="ir-agent", token=""), 401,
                          "unauthenticated")

    def test_ending_a_run_revokes_its_sessions(self):
        run_id, _, first = self.ir_session()
        _, parent_id, parent_token = self.ir_session(run_id)
        child = self.server.client(parent_token).assume(
            "incident-responder", run_id, parentSessionId=parent_id)
        self.assertStatus(child, 201)
        child_token = child.json["credentials"]["sessionToken"]
        ended = self.ir.post("/v1/runs/%s/end" % run_id)
        self.assertStatus(ended, 200)
        self.assertEqual(ended.json, {"runId": run_id, "revoked": 3})
        for token in (first, parent_token, child_token):
            self.assertRejected(self.stop_instance(token), "revoked")
        run = self.admin.get("/v1/runs/" + run_id)
        self.assertEqual(run.json["status"], "ended")
        self.assertEqual(run.json["endedBy"], "agent:ir-agent")
        # Ending again is harmless; nothing more can be assumed in it.
        self.assertEqual(self.ir.post("/v1/runs/%s/end" % run_id).json["revoked"], 0)
        self.assertStatus(self.ir.assume("incident-responder", run_id), 403,
                          "permission_denied", "is not active")
        self.assertStatus(self.ir.post("/v1/runs/run-unknown/end"), 404, "not_found")

    def test_the_human_a_run_acts_for_may_end_it(self):
        run = self.server.human("bob").start_run("incident-response", agent="ir-agent")
        self.assertStatus(run, 201)
        run_id = run.json["runId"]
        _, _, token = self.ir_session(run_id)
        self.assertStatus(self.server.human("carol").post("/v1/runs/%s/end" % run_id), 403,
                          "permission_denied")
        ended = self.server.human("bob").post("/v1/runs/%s/end" % run_id)
        self.assertStatus(ended, 200)
        self.assertEqual(ended.json["revoked"], 1)
        self.assertRejected(self.stop_instance(token), "revoked")

    def test_an_agent_cannot_touch_another_agents_run_or_sessions(self):
        run_id, session_id, token = self.ir_session()
        self.assertStatus(self.enrich.post("/v1/runs/%s/end" % run_id), 403,
                          "permission_denied", "may not end run")
        self.assertStatus(self.enrich.revoke(runId=run_id), 403, "permission_denied",
                          "may not revoke run")
        self.assertStatus(self.enrich.revoke(sessionId=session_id), 403, "permission_denied",
                          "may not revoke session")
        self.assertStatus(self.enrich.get("/v1/sessions/" + session_id), 403,
                          "permission_denied")
        # A session may revoke itself but not its run.
        self.assertStatus(self.server.client(token).revoke(runId=run_id), 403,
                          "permission_denied")
        self.assertDecision(self.stop_instance(token), "Allowed")
        self.assertEqual(self.admin.get("/v1/runs/" + run_id).json["status"], "active")
        # The refusals are in the audit log.
        refused = [r for r in self.admin.audit_records()
                   if r["event"].get("outcome") == "denied"
                   and r["event"].get("actor", {}).get("principal") == "agent:enrich-agent"]
        self.assertEqual(sorted(r["type"] for r in refused
                                if r["type"] in ("run.end", "revoke")),
                         ["revoke", "revoke", "run.end"])


class ExpiryTest(ServerTestCase):
    def test_a_session_expires(self):
        agent = self.server.agent("ir-agent")
        _, session = self.start_session(agent, "incident-response", "incident-responder",
                                        durationSeconds=2)
        token = session["credentials"]["sessionToken"]
        claims = xrole_e2e.token_claims(token)
        self.assertEqual(claims["exp"] - claims["iat"], 2)
        self.assertDecision(self.admin.authorize(token, "ec2:StopInstances", INSTANCE),
                            "Allowed")
        # Expiry is checked against the server clock in whole seconds (exp <= now).
        while time.time() < claims["exp"] + 0.2:
            time.sleep(0.2)
        reply = self.admin.authorize(token, "ec2:StopInstances", INSTANCE)
        self.assertRejected(reply, "expired_token")
        self.assertIn("expired", reply.json["error"]["message"])
        self.assertStatus(self.server.client(token).get("/v1/sessions/" + session["sessionId"]),
                          401, "unauthenticated")
        # Longer than the role maximum is capped (15 minutes).
        run = agent.start_run("incident-response").json["runId"]
        capped = agent.assume("incident-responder", run, durationSeconds=7200)
        self.assertStatus(capped, 201)
        capped_claims = xrole_e2e.token_claims(capped.json["credentials"]["sessionToken"])
        self.assertEqual(capped_claims["exp"] - capped_claims["iat"], 900)

    def test_minimum_duration_applies(self):
        server = xrole_e2e.Server(min_session_seconds=60).start()
        try:
            agent = server.agent("ir-agent")
            run = agent.start_run("incident-response").json["runId"]
            reply = agent.assume("incident-responder", run, durationSeconds=2)
            self.assertStatus(reply, 400, "invalid_argument", "at least 60")
            self.assertEqual(reply.json["error"]["path"], "durationSeconds")
        finally:
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    xrole_e2e.main()
