-- wrk script: POST /v1/sessions (assume incident-responder in one run) as the run's agent.
-- Each request signs a token and commits a session and its audit record durably.
-- Set XROLE_AGENT_BEARER (AKID:SECRET) and XROLE_RUN_ID.
wrk.method = "POST"
wrk.path = "/v1/sessions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("XROLE_AGENT_BEARER")
wrk.body = string.format('{"role":"incident-responder","runId":"%s"}', os.getenv("XROLE_RUN_ID"))
