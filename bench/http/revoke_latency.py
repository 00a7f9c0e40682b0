#!/usr/bin/env python3
"""Time from a revoke call returning to the first denied authorize, over real HTTP.

For each trial: assume a fresh session, check that it authorizes, revoke it, then immediately
send authorize requests with its token until one is denied. Prints the median and p99 of
(first denied response time - revoke return time) and how many requests after the revoke were
still allowed (must be 0: revocation is effective before the revoke call returns).
Usage: revoke_latency.py SERVER_URL ADMIN_TOKEN AGENT_BEARER RUN_ID [TRIALS]"""
import http.client
import json
import statistics
import sys
import time
from urllib.parse import urlparse


def main():
    server, admin, agent, run_id = sys.argv[1:5]
    trials = int(sys.argv[5]) if len(sys.argv) > 5 else 200
    url = urlparse(server)
    conn = http.client.HTTPConnection(url.hostname, url.port)

    def call(method, path, body, bearer=None):
        headers = {"Content-Type": "application/json"}
        if bearer:
            headers["Authorization"] = "Bearer " + bearer
        conn.request(method, path, json.dumps(body), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    authorize = {"action": "ec2:DescribeInstances", "resource": "*"}
    gaps, late_allows = [], 0
    for _ in range(trials):
        status, session = call("POST", "/v1/sessions",
                               {"role": "incident-responder", "runId": run_id}, agent)
        assert status == 201, session
        token = session["credentials"]["sessionToken"]
        status, decided = call("POST", "/v1/authorize", dict(authorize, sessionToken=token))
        assert decided["decision"] == "Allowed", decided
        status, revoked = call("POST", "/v1/revoke", {"sessionId": session["sessionId"]}, admin)
        assert status == 200 and revoked["revoked"] == 1, revoked
        returned = time.perf_counter()
        while True:
            status, decided = call("POST", "/v1/authorize", dict(authorize, sessionToken=token))
            if status == 401 and decided.get("error", {}).get("code") == "revoked":
                gaps.append(time.perf_counter() - returned)
                break
            late_allows += 1
    gaps.sort()
    print(json.dumps({
        "trials": trials,
        "median_ms": round(statistics.median(gaps) * 1000, 3),
        "p99_ms": round(gaps[int(len(gaps) * 0.99) - 1] * 1000, 3),
        "allowed_after_revoke": late_allows,
    }))


if __name__ == "__main__":
    main()
