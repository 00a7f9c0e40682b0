#!/usr/bin/env python3
"""Signs STS requests with signers independent of xrole, for src/sts/sigv4_test.cc.

Prints one JSON object per line:
  {"source": ..., "method": ..., "path": ..., "query": ..., "headers": [[name, value], ...],
   "body": ..., "secret": ..., "now": <epoch seconds the request was signed at>}

Two signers:
  * "hand": a minimal SigV4 signer written here from AWS's published specification, with
    hashlib and hmac only (STS form posts with every AssumeRole parameter, a session token,
    a body larger than 8 KiB, a GET with a query string and a presigned URL).
  * "botocore": if botocore is importable, the real STS client builds and signs AssumeRole and
    GetCallerIdentity calls (captured before sending, nothing leaves the process), and
    generate_presigned_url presigns GetCallerIdentity. Its time is the real clock.
"""
import calendar
import datetime
import hashlib
import hmac
import json
import sys
import urllib.parse

ACCESS_KEY = "AKIAEXAMPLECALLER01"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "brk1.eyJzaWQiOiJzLTEifQ.c2ln"
HOST = "127.0.0.1:8600"
REGION = "us-east-1"
FIXED_TIME = datetime.datetime(2026, 11, 28, 15, 33, 57, tzinfo=datetime.timezone.utc)


def emit(source, method, path, query, headers, body, now):
    print(json.dumps({"source": source, "method": method, "path": path, "query": query,
                      "headers": headers, "body": body, "secret": SECRET, "now": now}))


def quote(text):
    return urllib.parse.quote(text, safe="-_.~")


def hand_sign(method, path, params_query, headers, body, when, presign_expires=None,
              token=None, service="sts"):
    """Returns (query, headers) with the SigV4 signature added."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    scope = f"{day}/{REGION}/{service}/aws4_request"
    headers = list(headers) + [("Host", HOST)]
    query_pairs = list(params_query)
    if presign_expires is None:
        headers.append(("X-Amz-Date", amz_date))
        if token:
            headers.append(("X-Amz-Security-Token", token))
    names = sorted({name.lower() for name, _ in headers})
    signed_headers = ";".join(names)
    if presign_expires is not None:
        query_pairs += [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                        ("X-Amz-Credential", f"{ACCESS_KEY}/{scope}"),
                        ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(presign_expires)),
                        ("X-Amz-SignedHeaders", signed_headers)]
        if token:
            query_pairs.append(("X-Amz-Security-Token", token))
    # Sort by the encoded name, then the encoded value (AWS's rule).
    encoded = sorted((quote(k), quote(v)) for k, v in query_pairs)
    canonical_query = "&".join(f"{k}={v}" for k, v in encoded)
    canonical_headers = ""
    for name in names:
        values = [" ".join(v.split()) for n, v in headers if n.lower() == name]
        canonical_headers += f"{name}:{','.join(values)}\n"
    canonical_request = "\n".join([
        method, quote_path(path), canonical_query, canonical_headers, signed_headers,
        hashlib.sha256(body.encode()).hexdigest()])
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = ("AWS4" + SECRET).encode()
    for part in (day, REGION, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if presign_expires is not None:
        query_pairs.append(("X-Amz-Signature", signature))
    else:
        headers.append(("Authorization", f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
                        f"SignedHeaders={signed_headers}, Signature={signature}"))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in query_pairs)
    return query, [list(h) for h in headers]


def quote_path(path):
    # Non-s3 services: each segment of the path as sent is URI-encoded again.
    return "/".join(quote(segment) for segment in path.split("/"))


def form(params):
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in params)


def hand_requests():
    when = FIXED_TIME
    now = calendar.timegm(when.utctimetuple())
    content_type = ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    small = form([("Action", "AssumeRole"), ("Version", "2011-06-15"),
                  ("RoleArn", "arn:aws:iam::123456789012:role/x"), ("RoleSessionName", "s1")])
    query, headers = hand_sign("POST", "/", [], [content_type], small, when)
    emit("hand:assume-role", "POST", "/", query, headers, small, now)

    big_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i}/*"}
        for i in range(120)]})
    everything = form([
        ("Action", "AssumeRole"), ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::123456789012:role/x"), ("RoleSessionName", "agent-7@ci"),
        ("PolicyArns.member.1.arn", "arn:aws:iam::123456789012:policy/p1"),
        ("Policy", big_policy), ("DurationSeconds", "900"),
        ("Tags.member.1.Key", "team"), ("Tags.member.1.Value", "ml ü"),
        ("TransitiveTagKeys.member.1", "team"), ("ExternalId", "ext-1"),
        ("SourceIdentity", "agent-7")])
    assert len(everything) > 8192
    query, headers = hand_sign("POST", "/", [], [content_type], everything, when, token=TOKEN)
    emit("hand:assume-role-everything-with-token", "POST", "/", query, headers, everything, now)

    query, headers = hand_sign(
        "GET", "/", [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")], [], "", when)
    emit("hand:get-caller-identity-query", "GET", "/", query, headers, "", now)

    query, headers = hand_sign(
        "GET", "/", [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")], [], "", when,
        presign_expires=60, token=TOKEN)
    emit("hand:get-caller-identity-presigned", "GET", "/", query, headers, "", now)


def botocore_requests():
    try:
        import botocore
        import botocore.awsrequest
        import botocore.session
    except ImportError:
        return
    session = botocore.session.get_session()
    client = session.create_client(
        "sts", region_name=REGION, endpoint_url=f"http://{HOST}",
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET, aws_session_token=TOKEN)
    source = f"botocore-{botocore.__version__}"

    class Captured(Exception):
        pass

    def capture(request, **kwargs):
        url = urllib.parse.urlsplit(request.url)
        body = request.body or b""
        if not isinstance(body, bytes):
            body = body.encode() if isinstance(body, str) else body.read()
        headers = [[k, v.decode() if isinstance(v, bytes) else v]
                   for k, v in request.headers.items()]
        if not any(k.lower() == "host" for k, _ in headers):
            headers.append(["Host", url.netloc])  # added by the HTTP client when sending
        amz_date = dict((k.lower(), v) for k, v in headers)["x-amz-date"]
        now = calendar.timegm(datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
                              .utctimetuple())
        emit(f"{source}:{kwargs['event_name']}", request.method, url.path or "/", url.query,
             headers, body.decode(), now)
        raise Captured()

    client.meta.events.register("before-send.sts", capture)
    calls = [
        ("assume_role", dict(RoleArn="arn:aws:iam::123456789012:role/x", RoleSessionName="s1")),
        ("assume_role", dict(
            RoleArn="arn:aws:iam::123456789012:role/x", RoleSessionName="agent-7",
            PolicyArns=[{"arn": "arn:aws:iam::123456789012:policy/p1"}],
            Policy=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            DurationSeconds=900, Tags=[{"Key": "team", "Value": "ml"}],
            TransitiveTagKeys=["team"], ExternalId="ext-1", SourceIdentity="agent-7")),
        ("get_caller_identity", {}),
    ]
    for name, params in calls:
        try:
            getattr(client, name)(**params)
        except Captured:
            pass
    # The operation's own method is POST; a presigned GetCallerIdentity URL is fetched with GET
    # (as the EKS and Vault AWS authenticators do), so it is presigned for GET.
    url = urllib.parse.urlsplit(client.generate_presigned_url(
        "get_caller_identity", ExpiresIn=60, HttpMethod="GET"))
    params = dict(urllib.parse.parse_qsl(url.query))
    now = calendar.timegm(datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
                          .utctimetuple())
    emit(f"{source}:presigned-get-caller-identity", "GET", url.path or "/", url.query,
         [["Host", url.netloc]], "", now)


def main():
    hand_requests()
    botocore_requests()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
