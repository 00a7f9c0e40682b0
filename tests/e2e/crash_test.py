"""Crash test: what the broker acknowledged survives `kill -9`.

Several threads stream assumes, authorizes and revocations at a running server and record every
result they were answered (session ids and their audit ids, revoked sessions, decision audit
ids). The server is killed with SIGKILL in the middle of the stream and started again on the
same data directory, twice. Every acknowledged session must still exist, every acknowledged
revocation must still hold, every acknowledged audit id must be in the audit log with the
record it stood for, and the chain must verify.
"""

import http.client
import sys
import threading
import time
import unittest

import xrole_e2e

INSTANCE = "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"
THREADS = 6
ROUNDS = 2
MIN_ACKED_SESSIONS_PER_ROUND = 300
MAX_STREAM_SECONDS = 8


class Ledger:
    """What the server acknowledged, across threads and rounds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sessions = {}  # session id -> (token, audit id)
        self.decisions = {}  # audit id -> session id
        self.revoked = set()  # acknowledged revocations
        self.revoke_attempted = set()  # sent, acknowledged or not
        self.runs = set()
        self.errors = []

    def session_count(self):
        with self.lock:
            return len(self.sessions)


def stream(port, agent_key, ledger, stop):
    """One client thread: a run, then assume / authorize / (every third) revoke until the
    server goes away or `stop` is set."""
    client = xrole_e2e.Client(port, agent_key)
    admin_decisions = xrole_e2e.Client(port)
    try:
        run = client.request("POST", "/v1/runs", {"workflow": "incident-response"},
                             retry=False)
        if run.status != 201:
            ledger.errors.append("run: %r" % run)
            return
        run_id = run.json["runId"]
        with ledger.lock:
            ledger.runs.add(run_id)
        i = 0
        while not stop.is_set():
            i += 1
            reply = client.request("POST", "/v1/sessions",
                                   {"role": "incident-responder", "runId": run_id},
                                   retry=False)
            if reply.status != 201:
                ledger.errors.append("assume: %r" % reply)
                return
            session_id = reply.json["sessionId"]
            token = reply.json["credentials"]["sessionToken"]
            with ledger.lock:
                ledger.sessions[session_id] = (token, reply.json["auditId"])
            decision = admin_decisions.request(
                "POST", "/v1/authorize",
                {"sessionToken": token, "action": "ec2:StopInstances", "resource": INSTANCE},
                token="", retry=False)
            if decision.status != 200 or decision.json["decision"] != "Allowed":
                ledger.errors.append("authorize: %r" % decision)
                return
            with ledger.lock:
                ledger.decisions[decision.json["auditId"]] = session_id
            if i % 3 == 0:
                with ledger.lock:
                    ledger.revoke_attempted.add(session_id)
                revoked = client.request("POST", "/v1/revoke", {"sessionId": session_id},
                                         retry=False)
                if revoked.status != 200 or revoked.json["revoked"] != 1:
                    ledger.errors.append("revoke: %r" % revoked)
                    return
                with ledger.lock:
                    ledger.revoked.add(session_id)
    except (OSError, http.client.HTTPException):
        pass  # the server was killed mid-request: that request was not acknowledged
    finally:
        client.close()
        admin_decisions.close()


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.server = xrole_e2e.Server()
        self.addCleanup(self.server.cleanup)

    def crash_round(self, ledger, agent_key):
        stop = threading.Event()
        threads = [threading.Thread(target=stream, args=(self.server.port, agent_key, ledger,
                                                         stop))
                   for _ in range(THREADS)]
        target = ledger.session_count() + MIN_ACKED_SESSIONS_PER_ROUND
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + MAX_STREAM_SECONDS
        while ledger.session_count() < target and time.monotonic() < deadline:
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(0.02)
        alive = sum(t.is_alive() for t in threads)
        self.server.kill()  # mid-stream: threads are still sending
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        self.assertEqual(ledger.errors, [])
        self.assertGreater(alive, 0, "the stream ended before the kill")
        self.assertGreaterEqual(ledger.session_count(), target - MIN_ACKED_SESSIONS_PER_ROUND + 1)

    def check(self, ledger):
        admin = self.server.admin()
        for session_id, (token, _) in sorted(ledger.sessions.items()):
            record = admin.get("/v1/sessions/" + session_id)
            self.assertEqual(record.status, 200, (session_id, record))
            decision = admin.authorize(token, "ec2:StopInstances", INSTANCE)
            if session_id in ledger.revoked:
                self.assertEqual(record.json["status"], "revoked", record)
                self.assertEqual(decision.status, 401, (session_id, decision))
                self.assertEqual(decision.json["error"]["code"], "revoked", decision)
            elif session_id not in ledger.revoke_attempted:
                self.assertEqual(record.json["status"], "active", record)
                self.assertEqual(decision.status, 200, (session_id, decision))
                self.assertEqual(decision.json["decision"], "Allowed", decision)
        for run_id in ledger.runs:
            self.assertEqual(admin.get("/v1/runs/" + run_id).status, 200, run_id)

        records = {r["seq"]: r for r in admin.audit_records()}
        for session_id, (_, audit_id) in ledger.sessions.items():
            self.assertIn(audit_id, records, session_id)
            record = records[audit_id]
            self.assertEqual(record["type"], "session.assume", record)
            self.assertEqual(record["event"]["actor"]["session"], session_id, record)
        for audit_id, session_id in ledger.decisions.items():
            self.assertIn(audit_id, records, session_id)
            record = records[audit_id]
            self.assertEqual(record["type"], "authorize", record)
            self.assertEqual(record["event"]["actor"]["session"], session_id, record)
            self.assertEqual(record["event"]["outcome"], "Allowed", record)
        revoked_in_log = {r["event"]["details"]["sessionId"] for r in records.values()
                          if r["type"] == "revoke" and r["event"].get("outcome") == "ok"}
        self.assertEqual(ledger.revoked - revoked_in_log, set())
        self.assertEqual(sorted(records), list(range(1, len(records) + 1)))

        verify = admin.verify_audit()
        self.assertEqual(verify.status, 200, verify)
        self.assertTrue(verify.json["ok"], verify)
        self.assertEqual(verify.json["records"], len(records))

    def test_acknowledged_results_survive_kill_9(self):
        self.server.start()
        agent_key = self.server.issue_key("agent", "ir-agent")
        ledger = Ledger()
        for round_number in range(ROUNDS):
            self.crash_round(ledger, agent_key)
            self.server.start(load=False)
            self.check(ledger)
            print("round %d: %d sessions, %d decisions, %d revocations acknowledged; "
                  "%d revocations unanswered" %
                  (round_number + 1, len(ledger.sessions), len(ledger.decisions),
                   len(ledger.revoked), len(ledger.revoke_attempted - ledger.revoked)),
                  file=sys.stderr)
            started = [r for r in self.server.admin().audit_records()
                       if r["type"] == "server.start"]
            self.assertEqual(len(started), round_number + 2)
        # Still fully usable after the crashes: the agent key and the catalog survived.
        agent = self.server.client(agent_key)
        run = agent.start_run("incident-response")
        self.assertEqual(run.status, 201, run)
        session = agent.assume("incident-responder", run.json["runId"])
        self.assertEqual(session.status, 201, session)
        self.assertEqual(self.server.stop(), 0)
        # A clean stop after the crashes leaves a chain that verifies from a fresh start.
        self.server.start(load=False)
        verify = self.server.admin().verify_audit()
        self.assertTrue(verify.json["ok"], verify)
        self.assertGreaterEqual(verify.json["checkpoints"], 1)
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    xrole_e2e.main()
