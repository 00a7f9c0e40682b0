-- wrk script: POST /v1/authorize with one session token, cycling through a few actions so the
-- decisions mix Allowed, ExplicitlyDenied and ImplicitlyDenied. Set XROLE_SESSION_TOKEN.
local token = os.getenv("XROLE_SESSION_TOKEN")
local bodies = {}
local requests = {
  {"ec2:StopInstances", "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"},
  {"ec2:DescribeInstances", "*"},
  {"ec2:DeleteSnapshot", "arn:aws:ec2:eu-west-1::snapshot/snap-1"},
  {"s3:GetObject", "arn:aws:s3:::evidence/disk.img"},
}
for i, r in ipairs(requests) do
  bodies[i] = string.format('{"sessionToken":"%s","action":"%s","resource":"%s"}',
                            token, r[1], r[2])
end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/authorize", nil, bodies[(n % #bodies) + 1])
end
