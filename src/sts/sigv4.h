// sigv4.h: server-side verification of AWS Signature Version 4 (AWS4-HMAC-SHA256), the
// signature of every AWS SDK/CLI request. Verification is two steps so the caller can look the
// secret up in between:
//   1. ParseSigV4(request) reads the credential, scope, signed header list, signature, request
//      time and session token from the Authorization header or, for a presigned URL, from the
//      X-Amz-* query parameters, and checks their shape.
//   2. The caller finds the secret for parsed.access_key_id (unknown key: the caller answers
//      InvalidClientTokenId), then VerifySigV4(request, parsed, secret, now) checks the time
//      window and recomputes the signature.
// The canonicalization follows AWS's published SigV4 specification (and is checked against
// AWS's own SigV4 test suite, tests/data/sigv4): canonical URI (the path exactly as sent for
// s3; for every other service the normalized path with each segment URI-encoded again),
// canonical query (decoded, re-encoded with the unreserved set A-Za-z0-9-_.~, sorted),
// canonical headers (only SignedHeaders, lower-case names, values trimmed with inner space runs
// collapsed, repeated headers joined by ','), and the payload hash (the x-amz-content-sha256
// header when present, else UNSIGNED-PAYLOAD for an s3 presigned URL, else hex SHA-256 of the
// body: botocore presigns every other service over the body hash).
// Everything here is pure (no I/O, no clock, no global state) and thread-safe.
#ifndef XROLE_STS_SIGV4_H_
#define XROLE_STS_SIGV4_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "sts/error.h"

namespace xrole::sts {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

using HttpHeaderField = std::pair<std::string, std::string>;  // name (any case), value

// A view of one HTTP request; nothing is copied. The referenced data must outlive the calls.
struct SignedRequestView {
  std::string_view method;  // "GET", "POST", ... (case-sensitive, as sent)
  std::string_view path;    // raw request path before '?', percent-encoded as sent ("/" if none)
  std::string_view query;   // raw query string after '?', without the '?' ("" when none)
  // Header fields in arrival order. Names may be in any case; a name may appear repeatedly.
  // Lookups are ASCII-case-insensitive. (server::HttpRequest::headers fits directly.)
  std::span<const HttpHeaderField> headers;
  std::string_view body;  // the request body bytes (after HTTP de-chunking)
};

// What ParseSigV4 extracted. All fields are filled; optional ones are empty when absent.
struct SigV4Auth {
  std::string access_key_id;                // "AKIA..." / "ASIA..."
  std::string scope_date;                   // YYYYMMDD from the credential scope
  std::string region;                       // "us-east-1"
  std::string service;                      // "sts", "s3", ...
  std::vector<std::string> signed_headers;  // lower-case, strictly ascending
  std::string signature;                    // 64 lower-case hex digits
  std::string amz_date;                     // request time, ISO 8601 basic: 20150830T123600Z
  std::int64_t request_time = 0;            // amz_date as epoch seconds (UTC)
  // X-Amz-Security-Token (header, or query parameter when presigned); "" when absent.
  std::string security_token;
  bool presigned = false;  // true: taken from the X-Amz-* query parameters
  // X-Amz-Expires (presigned only): 1..604800; 0 when absent, and then the clock-skew window
  // of header-signed requests applies.
  std::int64_t expires_seconds = 0;
  std::string credential_scope() const;  // "<date>/<region>/<service>/aws4_request"
};

// Finds the SigV4 authentication data of `request`.
// A request with neither an Authorization header nor X-Amz-Algorithm/X-Amz-Credential query
// parameters fails with MissingAuthenticationToken ("Request is missing Authentication Token").
// Both at once, a non-AWS4-HMAC-SHA256 algorithm, a missing or malformed Credential /
// SignedHeaders / Signature element, a scope not ending in "aws4_request", an unparseable or
// missing X-Amz-Date (or Date) and a scope date different from the request day fail with
// IncompleteSignature, with a message naming the problem the way AWS does. SignedHeaders must
// include "host", and "x-amz-date" (or "date", whichever carries the time) when it is sent as a
// header, and "x-amz-security-token" when that header is sent (AWS lets some services leave it
// unsigned; xrole does not). The time window and the signature are checked by VerifySigV4.
StsResult<SigV4Auth> ParseSigV4(const SignedRequestView& request);

struct SigV4VerifyOptions {
  // Maximum distance between the request time and `now` (either direction); AWS uses 5 min.
  std::int64_t max_clock_skew_seconds = 300;
  // When not empty, the credential scope's service must equal this (e.g. "sts"); otherwise
  // SignatureDoesNotMatch "Credential should be scoped to correct service: 'sts'.".
  std::string expected_service;
  // Whether the payload may be left unsigned: x-amz-content-sha256 UNSIGNED-PAYLOAD or
  // STREAMING-UNSIGNED-PAYLOAD-TRAILER, and s3 presigned URLs. Only an S3 gateway wants this;
  // for STS the body carries the operation and must be signed.
  bool allow_unsigned_payload = false;
};

// The intermediate values of one signature computation (AWS's spec names).
struct SigV4Computation {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lower-case hex
};

// Checks the time window at `now` (epoch seconds) and the signature of `request` under
// `secret_access_key`. `auth` must come from ParseSigV4(request).
// Errors:
//   RequestExpired        header-signed: |now - request_time| > max_clock_skew_seconds
//                         ("Signature expired: ..." / "Signature not yet current: ...");
//                         presigned: now > request_time + expires_seconds, or the request
//                         time is more than max_clock_skew_seconds in the future
//   SignatureDoesNotMatch a signed header is missing, the service is not the expected one, or
//                         the recomputed signature differs (compared in constant time). The
//                         message is AWS's generic text; error.debug_detail holds the canonical
//                         request and string to sign (never the secret or the signing key).
//   IncompleteSignature   the query string has a malformed percent-escape; the payload is
//                         unsigned (see allow_unsigned_payload) or uses an unsupported scheme
//                         (STREAMING-AWS4-HMAC-SHA256-PAYLOAD: chunk signatures)
//   XAmzContentSHA256Mismatch  x-amz-content-sha256 is a hex hash that is not the body's
// A signature is only accepted when every byte of method, path, query, signed headers and
// (unless unsigned payloads are allowed) body is covered by it.
StsStatus VerifySigV4(const SignedRequestView& request, const SigV4Auth& auth,
                      std::string_view secret_access_key, std::int64_t now,
                      const SigV4VerifyOptions& options = {});

// The canonical request, string to sign and signature of `request` for the credential,
// signed headers, request time and presigned flag in `auth` (auth.signature is ignored).
// This is both the verifier's core and a signer: to sign, fill `auth` and send
// BuildAuthorizationHeader(auth with the returned signature). Errors: SignatureDoesNotMatch
// when a signed header is absent from the request, IncompleteSignature for a malformed query.
StsResult<SigV4Computation> ComputeSigV4(const SignedRequestView& request, const SigV4Auth& auth,
                                         std::string_view secret_access_key);

// The parts of ComputeSigV4, exposed for tests and for diagnostics.
StsResult<std::string> CanonicalUri(std::string_view raw_path, std::string_view service);
StsResult<std::string> CanonicalQuery(std::string_view raw_query, bool presigned);
std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request);
// HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
crypto::Digest SigningKey(std::string_view secret_access_key, std::string_view scope_date,
                          std::string_view region, std::string_view service);

// "AWS4-HMAC-SHA256 Credential=<akid>/<scope>, SignedHeaders=a;b, Signature=<hex>".
std::string BuildAuthorizationHeader(const SigV4Auth& auth);

// "20150830T123600Z" <-> epoch seconds (UTC). Parse fails (returns false) on any other shape
// or an impossible date/time.
bool ParseAmzDate(std::string_view text, std::int64_t* epoch_seconds);
std::string FormatAmzDate(std::int64_t epoch_seconds);

// RFC 3986 percent-encoding of every byte outside A-Za-z0-9-_.~ (upper-case hex), as SigV4
// requires; with keep_slash, '/' is kept.
std::string UriEncode(std::string_view bytes, bool keep_slash = false);

}  // namespace xrole::sts

#endif  // XROLE_STS_SIGV4_H_
