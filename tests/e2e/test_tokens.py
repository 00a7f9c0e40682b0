"""Session tokens: signing-key rotation, and every kind of bad token refused (401
invalid_token) and audited."""

import json
import os

import xrole_e2e
from xrole_e2e import ServerTestCase, b64url_decode, b64url_encode, token_claims

INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"


def replace_payload(token, **changes):
    """The token with some claims changed and the original signature kept."""
    prefix, payload, signature = token.split(".")
    claims = token_claims(token)
    claims.update(changes)
    return ".".join([prefix, b64url_encode(json.dumps(claims, separators=(",", ":")).encode()),
                     signature])


def flip_signature_byte(token, index=10):
    prefix, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[index] ^= 0x01
    return ".".join([prefix, payload, b64url_encode(bytes(raw))])


class KeyRotationTest(ServerTestCase):
    def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(self):
        agent = self.server.agent("ir-agent")
        run, old_session = self.start_session(agent, "incident-response", "incident-responder")
        old_token = old_session["credentials"]["sessionToken"]
        keys = self.admin.get("/v1/keys")
        self.assertStatus(keys, 200)
        self.assertEqual(len(keys.json["keys"]), 1)
        old_kid = keys.json["keys"][0]["keyId"]
        self.assertEqual(token_claims(old_token)["kid"], old_kid)

        self.assertStatus(agent.post("/v1/keys/rotate"), 403, "permission_denied")
        rotated = self.admin.post("/v1/keys/rotate")
        self.assertStatus(rotated, 200)
        new_kid = rotated.json["keyId"]
        self.assertNotEqual(new_kid, old_kid)

        keys = self.server.client().get("/v1/keys", token="")  # public
        self.assertStatus(keys, 200)
        by_id = {k["keyId"]: k for k in keys.json["keys"]}
        self.assertEqual(set(by_id), {old_kid, new_kid})
        self.assertFalse(by_id[old_kid]["active"])
        self.assertTrue(by_id[new_kid]["active"])
        self.assertEqual(by_id[new_kid]["algorithm"], "Ed25519")
        self.assertEqual(len(b64url_decode(by_id[new_kid]["publicKey"])), 32)

        self.assertDecision(self.admin.authorize(old_token, "ec2:StopInstances", INSTANCE),
                            "Allowed")
        new_session = agent.assume("incident-responder", run["runId"])
        self.assertStatus(new_session, 201)
        new_token = new_session.json["credentials"]["sessionToken"]
        self.assertEqual(token_claims(new_token)["kid"], new_kid)
        self.assertDecision(self.admin.authorize(new_token, "ec2:StopInstances", INSTANCE),
                            "Allowed")

        # Both keys and both tokens survive a restart; so does the audit chain, whose
        # checkpoints are now signed by two keys.
        self.server.restart()
        admin = self.server.admin()
        keys = admin.get("/v1/keys")
        self.assertEqual({k["keyId"]: k["active"] for k in keys.json["keys"]},
                         {old_kid: False, new_kid: True})
        self.assertDecision(admin.authorize(old_token, "ec2:StopInstances", INSTANCE),
                            "Allowed")
        self.assertDecision(admin.authorize(new_token, "ec2:StopInstances", INSTANCE),
                            "Allowed")
        verify = admin.verify_audit()
        self.assertTrue(verify.json["ok"], verify)
        self.assertGreaterEqual(verify.json["checkpoints"], 1)
        rotations = [r for r in admin.audit_records() if r["type"] == "keys.rotate"]
        self.assertEqual([r["event"]["outcome"] for r in rotations], ["denied", "ok"])
        self.assertEqual(rotations[1]["event"]["details"],
                         {"previousKey": old_kid, "newKey": new_kid})


class BadTokenTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.agent = cls.server.agent("ir-agent")
        run = cls.agent.start_run("incident-response")
        session = cls.agent.assume("incident-responder", run.json["runId"])
        cls.session = session.json
        cls.token = session.json["credentials"]["sessionToken"]

    def assertRefusedAndAudited(self, token, message_has=None):
        reply = self.admin.authorize(token, "ec2:StopInstances", INSTANCE)
        self.assertRejected(reply, "invalid_token")
        if message_has is not None:
            self.assertIn(message_has, reply.json["error"]["message"])
        records = {r["seq"]: r for r in self.admin.audit_records()}
        record = records[reply.json["auditId"]]
        self.assertEqual(record["type"], "authorize.rejected")
        self.assertEqual(record["event"]["outcome"], "rejected")
        self.assertEqual(record["event"]["details"]["code"], "invalid_token")
        self.assertEqual(record["event"]["details"]["action"], "ec2:StopInstances")
        # The API refuses the same token as a bearer.
        self.assertStatus(self.server.client(token).get("/v1/sessions/" +
                                                        self.session["sessionId"]),
                          401, "unauthenticated")
        return reply

    def test_the_genuine_token_works(self):
        self.assertDecision(self.admin.authorize(self.token, "ec2:StopInstances", INSTANCE),
                            "Allowed")
        own = self.server.client(self.token).get("/v1/sessions/" + self.session["sessionId"])
        self.assertStatus(own, 200)
        self.assertEqual(own.json["status"], "active")

    def test_batch_decides_each_request_on_its_own(self):
        forged = replace_payload(self.token, role="deploy-production")
        reply = self.server.client().post("/v1/authorize", {"requests": [
            {"sessionToken": self.token, "action": "ec2:StopInstances", "resource": INSTANCE},
            {"sessionToken": forged, "action": "ec2:StopInstances", "resource": INSTANCE},
            {"sessionToken": self.token, "action": "ec2:TerminateInstances",
             "resource": INSTANCE}]}, token="")
        self.assertStatus(reply, 200)
        results = reply.json["results"]
        self.assertEqual([r["decision"] for r in results],
                         ["Allowed", "ImplicitlyDenied", "ImplicitlyDenied"])
        self.assertEqual(results[1]["error"]["code"], "invalid_token")
        self.assertNotIn("error", results[0])
        self.assertNotIn("error", results[2])
        self.assertEqual(len({r["auditId"] for r in results}), 3)
        # The access-key form needs the admin: only a trusted enforcement point may use it.
        by_key = {"accessKeyId": self.session["accessKeyId"], "action": "ec2:StopInstances",
                  "resource": INSTANCE}
        self.assertStatus(self.agent.post("/v1/authorize", by_key), 403, "permission_denied")
        self.assertDecision(self.admin.post("/v1/authorize", by_key), "Allowed")

    def test_forged_payload(self):
        claims = token_claims(self.token)
        self.assertRefusedAndAudited(replace_payload(self.token, exp=claims["exp"] + 86400),
                                     "signature")
        self.assertRefusedAndAudited(replace_payload(self.token, role="deploy-production"),
                                     "signature")
        self.assertRefusedAndAudited(replace_payload(self.token, agt="code-agent"),
                                     "signature")

    def test_tampered_signature(self):
        self.assertRefusedAndAudited(flip_signature_byte(self.token, 0), "signature")
        self.assertRefusedAndAudited(flip_signature_byte(self.token, 63), "signature")
        prefix, payload, signature = self.token.split(".")
        self.assertRefusedAndAudited(".".join([prefix, payload, signature[:-4]]))
        self.assertRefusedAndAudited(".".join([prefix, payload]))

    def test_garbage(self):
        self.assertRefusedAndAudited("garbage")
        self.assertRefusedAndAudited("xrt1.not base64!.AAAA")
        random_payload = b64url_encode(os.urandom(120))
        random_signature = b64url_encode(os.urandom(64))
        self.assertRefusedAndAudited("xrt1.%s.%s" % (random_payload, random_signature))
        self.assertRefusedAndAudited("xrt1." + "A" * 9000)
        claims = dict(token_claims(self.token), kid="k-0000000000000000")
        unknown_key = "xrt1.%s.%s" % (
            b64url_encode(json.dumps(claims).encode()), random_signature)
        self.assertRefusedAndAudited(unknown_key, "unknown signing key")

    def test_token_signed_by_another_server(self):
        other = xrole_e2e.Server().start()
        try:
            agent = other.agent("ir-agent")
            run = agent.start_run("incident-response")
            foreign = agent.assume("incident-responder", run.json["runId"])
            self.assertStatus(foreign, 201)
            token = foreign.json["credentials"]["sessionToken"]
            self.assertDecision(other.admin().authorize(token, "ec2:StopInstances", INSTANCE),
                                "Allowed")
        finally:
            other.stop()
            other.cleanup()
        self.assertRefusedAndAudited(token, "unknown signing key")
        # Even with this server's key id in it, the other key's signature does not verify.
        mine = token_claims(self.token)["kid"]
        self.assertRefusedAndAudited(replace_payload(token, kid=mine), "signature")

    def test_bad_bearer_credentials_are_refused_and_audited(self):
        client = self.server.client()
        for bearer in ("xadm_not-the-admin-token", "AKIAUNKNOWN:secret",
                       replace_payload(self.token, role="x"), "plain-garbage"):
            self.assertStatus(client.post("/v1/runs", {"workflow": "incident-response"},
                                          token=bearer), 401, "unauthenticated")
        self.assertStatus(client.post("/v1/runs", {"workflow": "incident-response"},
                                      headers={"Authorization": "Basic Zm9vOmJhcg=="},
                                      token=""), 401, "unauthenticated")
        agent_key = self.server.issue_key("agent", "ir-agent")
        key_id, secret = agent_key.split(":")
        wrong_secret = secret[:-1] + ("y" if secret.endswith("x") else "x")
        self.assertStatus(client.post("/v1/runs", {"workflow": "incident-response"},
                                      token=key_id + ":" + wrong_secret),
                          401, "unauthenticated")
        rejected = [r for r in self.admin.audit_records() if r["type"] == "auth.rejected"]
        self.assertGreaterEqual(len(rejected), 6)
        self.assertNotIn(secret, str(rejected))


if __name__ == "__main__":
    xrole_e2e.main()
