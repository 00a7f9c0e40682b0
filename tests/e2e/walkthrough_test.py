"""examples/walkthrough.sh — the four reference scenarios driven with the CLI only — against a
fresh server with the example roles: the script checks every step itself and exits non-zero
on the first unexpected result."""

import os
import subprocess
import unittest

import xrole_e2e

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class WalkthroughTest(unittest.TestCase):
    def test_walkthrough_passes_against_a_fresh_server(self):
        server = xrole_e2e.Server(load=[]).start()
        try:
            env = dict(os.environ,
                       XROLE_BIN=xrole_e2e.XROLE,
                       XROLE_SERVER="http://127.0.0.1:%d" % server.port,
                       XROLE_DATA=server.data_dir)
            env.pop("XROLE_TOKEN", None)
            result = subprocess.run(["bash", os.path.join(ROOT, "examples", "walkthrough.sh")],
                                    env=env, capture_output=True, text=True, timeout=100)
            self.assertEqual(result.returncode, 0, result.stdout[-4000:] + result.stderr[-2000:])
            for scenario in ("1. Incident response", "2. Code deployment",
                             "3. Data enrichment", "4. Remediation"):
                self.assertIn(scenario, result.stdout)
            self.assertTrue(server.admin().verify_audit().json["ok"])
        finally:
            server.cleanup()


if __name__ == "__main__":
    xrole_e2e.main()
