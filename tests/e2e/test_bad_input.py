"""Bad input over HTTP: malformed JSON, invalid roles as code (refused whole, with a path, and
nothing changes), oversized bodies, missing or insufficient credentials."""

import json
import socket

import xrole_e2e
from xrole_e2e import ServerTestCase

ROLE_TEMPLATE = """apiVersion: xrole/v1
kind: ExecutionRole
metadata:
  name: {name}
  owner: secops@example.com
spec:
  account: "111122223333"
  description: Reads one bucket.
  objective: Test role
  environment: staging
  maxSessionDuration: 15m
  trust:
    agents: [ir-agent]
    workflows: [incident-response]
  permissions:
    - name: read-one-bucket
      policy:
        Version: "2012-10-17"
        Statement:
          - Sid: Read
            Effect: {effect}
            Action: s3:GetObject
            Resource: arn:aws:s3:::{name}-bucket/*
"""


def raw_exchange(port, head, body, chunk=65536):
    """Sends `head` then as much of `body` as the server takes; returns the status line and
    the response text. The server may answer and close before the body is through."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head)
        try:
            for start in range(0, len(body), chunk):
                s.sendall(body[start:start + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = b""
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                received += data
                if b"\r\n\r\n" in received:
                    header, _, rest = received.partition(b"\r\n\r\n")
                    length = [int(line.split(b":")[1]) for line in header.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")]
                    if length and len(rest) >= length[0]:
                        break
        except ConnectionResetError:
            pass
    header, _, rest = received.partition(b"\r\n\r\n")
    status = int(header.split(b" ")[1]) if header else 0
    return status, rest.decode("utf-8", "replace")


class BadInputTest(ServerTestCase):
    def roles(self):
        reply = self.admin.get("/v1/roles")
        self.assertStatus(reply, 200)
        return reply.json

    def test_malformed_json_bodies(self):
        reply = self.admin.post("/v1/runs", raw='{"workflow": "incident-response"')
        self.assertStatus(reply, 400, "invalid_argument", "not valid JSON")
        reply = self.admin.post("/v1/authorize", raw="{bad")
        self.assertStatus(reply, 400, "invalid_argument", "not valid JSON")
        reply = self.admin.post("/v1/sessions", raw="[1, 2]")
        self.assertStatus(reply, 400, "invalid_argument", "must be a JSON object")
        reply = self.admin.post("/v1/runs", {"workflow": 5})
        self.assertStatus(reply, 400, "invalid_argument")
        self.assertEqual(reply.json["error"]["path"], "workflow")
        reply = self.admin.post("/v1/runs", {"workflow": "incident-response",
                                             "tags": {"ticket": 7}})
        self.assertStatus(reply, 400, "invalid_argument")
        self.assertEqual(reply.json["error"]["path"], "tags.ticket")
        reply = self.admin.post("/v1/authorize", {"sessionToken": "x", "action": "noservice"})
        self.assertStatus(reply, 400, "invalid_argument", "service:Action")
        reply = self.admin.post("/v1/authorize", {"requests": []})
        self.assertStatus(reply, 400, "invalid_argument")
        reply = self.admin.get("/v1/audit?after=abc")
        self.assertStatus(reply, 400, "invalid_argument")

    def test_unknown_routes(self):
        self.assertStatus(self.admin.get("/v1/nothing-here"), 404, "not_found")
        self.assertStatus(self.admin.get("/elsewhere"), 404, "not_found")

    def test_unknown_kind_in_apply_changes_nothing(self):
        before = self.roles()
        text = ROLE_TEMPLATE.format(name="fresh-role", effect="Allow") + \
            "---\napiVersion: xrole/v1\nkind: Robot\nmetadata:\n  name: r2d2\n"
        reply = self.admin.apply(text)
        self.assertStatus(reply, 400, "invalid_argument", "unknown kind `Robot`")
        self.assertEqual(reply.json["error"]["path"], "kind")
        self.assertEqual(self.roles(), before)
        self.assertStatus(self.admin.get("/v1/roles/fresh-role"), 404, "not_found")

    def test_invalid_policy_in_a_role_changes_nothing(self):
        before = self.roles()
        # A valid update of an existing role and a new role with an invalid policy: neither
        # is applied.
        existing = self.admin.get("/v1/roles/remediation-tagger").json
        update = ("apiVersion: xrole/v1\nkind: Human\nmetadata:\n  name: dave\n"
                  "spec:\n  email: dave@example.com\n")
        text = update + "---\n" + ROLE_TEMPLATE.format(name="broken-role", effect="Perhaps")
        reply = self.admin.apply(text)
        self.assertStatus(reply, 400, "malformed_policy", "unknown effect `Perhaps`")
        self.assertEqual(reply.json["error"]["path"],
                         "spec.permissions[0].policy.Statement[0].Effect")
        self.assertIn("ExecutionRole/broken-role", reply.json["error"]["message"])
        self.assertGreater(reply.json["error"]["line"], 0)
        self.assertEqual(self.roles(), before)
        self.assertEqual(self.admin.get("/v1/roles/remediation-tagger").json, existing)
        self.assertStatus(self.server.client().get("/v1/roles/broken-role",
                                                   token=self.server.admin_token), 404)
        # dave was not created either: no key can be issued for him.
        self.assertStatus(self.admin.post("/v1/humans/dave/credentials"), 404, "not_found")

        # The same documents, fixed, apply; a dry run changes nothing.
        fixed = update + "---\n" + ROLE_TEMPLATE.format(name="broken-role", effect="Allow")
        dry = self.admin.apply(fixed, "?dryRun=true")
        self.assertStatus(dry, 200)
        self.assertTrue(dry.json["dryRun"])
        self.assertEqual(sorted(c["object"] for c in dry.json["changes"]),
                         ["ExecutionRole/broken-role", "Human/dave"])
        self.assertEqual(self.roles(), before)
        applied = self.admin.apply(fixed)
        self.assertStatus(applied, 200)
        self.assertEqual(sorted((c["object"], c["action"]) for c in applied.json["changes"]),
                         [("ExecutionRole/broken-role", "created"), ("Human/dave", "created")])
        self.assertStatus(self.admin.get("/v1/roles/broken-role"), 200)
        deleted = self.admin.apply("", "?delete=ExecutionRole/broken-role,Human/dave")
        self.assertStatus(deleted, 200)
        self.assertEqual(self.roles(), before)

    def test_oversized_body_is_refused(self):
        body = json.dumps({"workflow": "incident-response",
                           "tags": {"padding": "x" * (1 << 20)}}).encode()
        self.assertGreater(len(body), 1 << 20)
        head = ("POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
                % (self.server.admin_token, len(body))).encode()
        status, text = raw_exchange(self.server.port, head, body)
        self.assertEqual(status, 413, text)
        self.assertEqual(json.loads(text)["error"]["code"], "payload_too_large")
        # The same for apply, and without a Content-Length (chunked).
        chunked_head = ("POST /v1/apply HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                        % self.server.admin_token).encode()
        piece = b"#" * 65536
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(20)) + b"0\r\n\r\n"
        status, text = raw_exchange(self.server.port, chunked_head, chunked)
        self.assertEqual(status, 413, text)
        # The server still serves.
        self.assertStatus(self.admin.get("/v1/roles"), 200)

    def test_unauthenticated_mutations_are_refused(self):
        anonymous = self.server.client()
        calls = [("/v1/runs", {"workflow": "incident-response", "agent": "ir-agent"}),
                 ("/v1/sessions", {"role": "incident-responder", "runId": "run-x"}),
                 ("/v1/revoke", {"agent": "ir-agent"}),
                 ("/v1/keys/rotate", None),
                 ("/v1/agents/ir-agent/credentials", None),
                 ("/v1/approvals/apr-x/approve", None)]
        for path, body in calls:
            self.assertStatus(anonymous.post(path, body, token=""), 401, "unauthenticated",
                              "Authorization")
        reply = anonymous.apply(ROLE_TEMPLATE.format(name="sneaky", effect="Allow"))
        self.assertStatus(reply, 401, "unauthenticated")
        self.assertStatus(self.admin.get("/v1/roles/sneaky"), 404)
        self.assertStatus(anonymous.get("/v1/audit"), 401, "unauthenticated")

    def test_agents_and_humans_cannot_apply_or_issue_keys(self):
        before = self.roles()
        agent = self.server.agent("ir-agent")
        text = ROLE_TEMPLATE.format(name="agent-made", effect="Allow")
        self.assertStatus(agent.apply(text), 403, "permission_denied",
                          "only the admin may apply")
        self.assertStatus(self.server.human("carol").apply(text), 403, "permission_denied")
        self.assertStatus(agent.post("/v1/agents/ir-agent/credentials"), 403,
                          "permission_denied")
        self.assertEqual(self.roles(), before)
        refused = [r for r in self.admin.audit_records()
                   if r["type"] == "apply" and r["event"].get("outcome") == "denied"]
        self.assertEqual(sorted(r["event"]["actor"]["principal"] for r in refused),
                         ["agent:ir-agent", "human:carol"])
        # Unknown principals get no keys.
        self.assertStatus(self.admin.post("/v1/agents/nobody/credentials"), 404, "not_found")

    def test_rotated_principal_key_stops_working(self):
        old = self.server.issue_key("agent", "ir-agent")
        rotated = self.admin.post("/v1/agents/ir-agent/rotate")
        self.assertStatus(rotated, 201)
        self.assertEqual(rotated.json["principal"], "agent:ir-agent")
        self.assertStatus(self.server.client(old).start_run("incident-response"), 401,
                          "unauthenticated")
        self.assertStatus(self.server.client(rotated.json["bearerToken"]).start_run(
            "incident-response"), 201)


if __name__ == "__main__":
    xrole_e2e.main()
