"""Delegation: a child session assumed with the parent session's token as bearer can do no more
than its own session policy and every ancestor allow, never outlives its parent, and dies with
it."""

import calendar
import time

import xrole_e2e
from xrole_e2e import ServerTestCase

INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"
ROLE = "incident-responder"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resource="*"):
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def epoch(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


class DelegationTest(ServerTestCase):
    def setUp(self):
        self.agent = self.server.agent("ir-agent")
        run, parent = self.start_session(self.agent, "incident-response", ROLE,
                                         durationSeconds=300)
        self.run_id = run["runId"]
        self.parent = parent
        self.parent_token = parent["credentials"]["sessionToken"]
        self.parent_client = self.server.client(self.parent_token)

    def delegate(self, bearer_client, parent_id, **fields):
        return bearer_client.assume(ROLE, self.run_id, parentSessionId=parent_id, **fields)

    def decide(self, token, action, resource=INSTANCE):
        return self.admin.authorize(token, action, resource)

    def test_child_is_bounded_by_its_policy_and_by_its_parent(self):
        child_policy = policy(allow(["ec2:Describe*", "ec2:TerminateInstances",
                                     "ec2:DeleteSnapshot"]))
        child = self.delegate(self.parent_client, self.parent["sessionId"], policy=child_policy,
                              durationSeconds=900)
        self.assertStatus(child, 201)
        self.assertEqual(child.json["parentSessionId"], self.parent["sessionId"])
        self.assertFalse(child.json["chained"])
        self.assertEqual(child.json["agent"], "ir-agent")
        self.assertEqual(child.json["runId"], self.run_id)
        self.assertNotEqual(child.json["policyHash"], self.parent["policyHash"])
        token = child.json["credentials"]["sessionToken"]

        # Within both the child's policy and the role: allowed.
        self.assertDecision(self.decide(token, "ec2:DescribeInstances", "*"), "Allowed")
        # The parent may stop instances; the child's policy leaves it out.
        self.assertDecision(self.decide(self.parent_token, "ec2:StopInstances"), "Allowed")
        self.assertDecision(self.decide(token, "ec2:StopInstances"), "ImplicitlyDenied")
        # The child's policy allows termination; the parent (the role) cannot terminate.
        self.assertDecision(self.decide(token, "ec2:TerminateInstances"), "ImplicitlyDenied")
        # Guardrails apply to every generation.
        self.assertDecision(self.decide(token, "ec2:DeleteSnapshot",
                                        "arn:aws:ec2:eu-west-1::snapshot/snap-1"),
                            "ExplicitlyDenied")

        # A child never outlives its parent, whatever it asks for.
        self.assertLessEqual(epoch(child.json["expiresAt"]), epoch(self.parent["expiresAt"]))
        self.assertLessEqual(epoch(child.json["credentials"]["expiration"]),
                             epoch(self.parent["expiresAt"]))
        claims = xrole_e2e.token_claims(token)
        self.assertLessEqual(claims["exp"],
                             xrole_e2e.token_claims(self.parent_token)["exp"])
        self.assertEqual(claims["sid"], child.json["sessionId"])

    def test_ancestor_session_policies_bind_every_descendant(self):
        # A parent narrowed by its own session policy; the role itself allows more.
        narrowed = self.delegate(self.parent_client, self.parent["sessionId"],
                                 policy=policy(allow(["ec2:Describe*", "ec2:StopInstances"])))
        self.assertStatus(narrowed, 201)
        narrowed_token = narrowed.json["credentials"]["sessionToken"]
        self.assertDecision(self.decide(narrowed_token, "ec2:ModifyInstanceAttribute"),
                            "ImplicitlyDenied")
        # Its child asks for what the role allows but its parent's policy does not.
        child = self.delegate(self.server.client(narrowed_token), narrowed.json["sessionId"],
                              policy=policy(allow(["ec2:ModifyInstanceAttribute",
                                                   "ec2:StopInstances"])))
        self.assertStatus(child, 201)
        token = child.json["credentials"]["sessionToken"]
        self.assertDecision(self.decide(token, "ec2:StopInstances"), "Allowed")
        self.assertDecision(self.decide(token, "ec2:ModifyInstanceAttribute"),
                            "ImplicitlyDenied")

    def test_delegating_requires_the_parent_token(self):
        child_policy = policy(allow("ec2:Describe*"))
        # The agent's own key does not hold the parent session.
        self.assertStatus(self.delegate(self.agent, self.parent["sessionId"],
                                        policy=child_policy),
                          403, "permission_denied", "requires that session's token")
        # Nor does a sibling session's token.
        _, sibling = self.start_session(self.agent, "incident-response", ROLE)
        sibling_client = self.server.client(sibling["credentials"]["sessionToken"])
        self.assertStatus(self.delegate(sibling_client, self.parent["sessionId"],
                                        policy=child_policy), 403, "permission_denied")
        # A parent of another run cannot be used for this run.
        reply = sibling_client.assume(ROLE, self.run_id, parentSessionId=sibling["sessionId"])
        self.assertStatus(reply, 403, "permission_denied", "another run")
        self.assertStatus(self.delegate(self.parent_client, "ses-unknown"), 404, "not_found")

    def test_delegating_to_an_untrusted_agent_is_refused(self):
        reply = self.delegate(self.parent_client, self.parent["sessionId"], agent="code-agent")
        self.assertStatus(reply, 403, "permission_denied", "trust policy")
        reply = self.delegate(self.parent_client, self.parent["sessionId"], agent="nobody")
        self.assertStatus(reply, 404, "not_found")

    def test_revoking_a_session_kills_its_descendants_only(self):
        child = self.delegate(self.parent_client, self.parent["sessionId"])
        self.assertStatus(child, 201)
        child_token = child.json["credentials"]["sessionToken"]
        grandchild = self.delegate(self.server.client(child_token), child.json["sessionId"])
        self.assertStatus(grandchild, 201)
        grandchild_token = grandchild.json["credentials"]["sessionToken"]
        self.assertDecision(self.decide(grandchild_token, "ec2:StopInstances"), "Allowed")

        # The child revokes itself (with its own token): the grandchild goes too.
        revoked = self.server.client(child_token).revoke(sessionId=child.json["sessionId"],
                                                         reason="task done")
        self.assertStatus(revoked, 200)
        self.assertEqual(revoked.json["revoked"], 2)
        self.assertRejected(self.decide(child_token, "ec2:StopInstances"), "revoked")
        reply = self.assertRejected(self.decide(grandchild_token, "ec2:StopInstances"),
                                    "revoked")
        self.assertIn("task done", reply.json["error"]["message"])
        self.assertDecision(self.decide(self.parent_token, "ec2:StopInstances"), "Allowed")

        # A new child of the parent, then the parent is revoked by its agent.
        second = self.delegate(self.parent_client, self.parent["sessionId"])
        second_token = second.json["credentials"]["sessionToken"]
        revoked = self.agent.revoke(sessionId=self.parent["sessionId"])
        self.assertStatus(revoked, 200)
        self.assertEqual(revoked.json["revoked"], 2)
        self.assertRejected(self.decide(self.parent_token, "ec2:StopInstances"), "revoked")
        self.assertRejected(self.decide(second_token, "ec2:StopInstances"), "revoked")
        # A dead session neither authenticates nor delegates.
        self.assertStatus(self.server.client(second_token).get(
            "/v1/sessions/" + second.json["sessionId"]), 401, "unauthenticated")
        self.assertStatus(self.delegate(self.parent_client, self.parent["sessionId"]), 401,
                          "unauthenticated")
        self.assertStatus(self.delegate(self.admin, self.parent["sessionId"]), 403,
                          "permission_denied", "revoked")
        status = self.admin.get("/v1/sessions/" + second.json["sessionId"])
        self.assertEqual(status.json["status"], "revoked")

    def test_invalid_session_policy_is_refused_with_its_path(self):
        bad_effect = policy({"Effect": "Maybe", "Action": "ec2:Describe*", "Resource": "*"})
        reply = self.delegate(self.parent_client, self.parent["sessionId"], policy=bad_effect)
        self.assertStatus(reply, 400, "malformed_policy", "unknown effect `Maybe`")
        self.assertEqual(reply.json["error"]["path"], "policy.Statement[0].Effect")

        no_resource = policy({"Effect": "Allow", "Action": "ec2:Describe*"})
        reply = self.delegate(self.parent_client, self.parent["sessionId"], policy=no_resource)
        self.assertStatus(reply, 400, "malformed_policy")
        self.assertEqual(reply.json["error"]["path"], "policy.Statement[0]")

        reply = self.delegate(self.parent_client, self.parent["sessionId"],
                              policy="{not json")
        self.assertStatus(reply, 400)
        self.assertTrue(reply.json["error"].get("path", "").startswith("policy"), reply)

        huge = policy(*[allow("ec2:DescribeInstances", INSTANCE + str(i)) for i in range(400)])
        reply = self.delegate(self.parent_client, self.parent["sessionId"], policy=huge)
        self.assertStatus(reply, 413, "limit_exceeded")
        self.assertEqual(reply.json["error"]["path"], "policy")

        # Nothing was issued by the refused requests: the parent has no children.
        revoked = self.agent.revoke(sessionId=self.parent["sessionId"])
        self.assertEqual(revoked.json["revoked"], 1)


if __name__ == "__main__":
    xrole_e2e.main()
