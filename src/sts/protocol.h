// protocol.h: the wire codec of the STS Query API (https://sts.amazonaws.com/doc/2011-06-15/):
// application/x-www-form-urlencoded requests in, XML responses out. It decodes and validates
// parameters the way AWS does (ValidationError with AWS's "N validation error(s) detected: ..."
// text) and renders AssumeRoleResponse, GetCallerIdentityResponse and ErrorResponse exactly in
// the shape the AWS CLI and SDKs parse. It makes no decisions: whether a role may be assumed,
// whether a policy is too large after packing or an MFA code is acceptable is the broker's.
#ifndef XROLE_STS_PROTOCOL_H_
#define XROLE_STS_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sts/error.h"

namespace xrole::sts {

inline constexpr std::string_view kStsApiVersion = "2011-06-15";
inline constexpr std::string_view kStsXmlNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

// ---- application/x-www-form-urlencoded ----

// Decoded name/value pairs in the order sent.
class FormParams {
 public:
  std::vector<std::pair<std::string, std::string>> fields;

  // The value of `name` (exact, case-sensitive), or nullptr when absent.
  const std::string* Find(std::string_view name) const;
};

// Decodes a form body (or a query string): '&'-separated "name=value" pairs, '+' is a space,
// "%XX" a byte; a pair without '=' is a name with an empty value; empty pairs ("a=1&&b=2", a
// trailing '&') are skipped. No size limit (the HTTP layer bounds bodies). Errors
// (InvalidQueryParameter, HTTP 400): a '%' not followed by two hex digits, an empty name, a
// name sent twice.
StsResult<FormParams> ParseForm(std::string_view text);

// Form-encodes (the inverse of ParseForm): unreserved bytes as-is, ' ' as '+', others %XX.
std::string FormEncode(std::string_view text);

// ---- request parsing ----

struct QueryRequest {
  std::string action;  // "AssumeRole", "GetCallerIdentity", ...
  FormParams params;   // every field, Action and Version included
};

// ParseForm, then Action and Version. Errors: MissingAction ("Request is missing Action") when
// Action is absent, InvalidAction ("Could not find operation <Action> for version <Version>")
// when Version is absent or not 2011-06-15. Whether the action exists is the caller's question
// (unknown: InvalidAction "Could not find operation X for version 2011-06-15").
StsResult<QueryRequest> ParseQueryRequest(std::string_view form_text);

struct StsTag {
  std::string key;
  std::string value;
  bool operator==(const StsTag&) const = default;
};

// The parameters of AssumeRole, validated against AWS's published constraints.
struct AssumeRoleRequest {
  std::string role_arn;                          // required, 20..2048 chars
  std::string role_session_name;                 // required, 2..64 of [\w+=,.@-]
  std::optional<std::int64_t> duration_seconds;  // 900..43200 (the role's max is the broker's)
  std::optional<std::string> policy;             // session policy JSON, as sent (size: broker's)
  std::vector<std::string> policy_arns;          // PolicyArns.member.N.arn, N order; <= 10
  std::vector<StsTag> tags;                      // Tags.member.N.{Key,Value}, N order; <= 50
  std::vector<std::string> transitive_tag_keys;  // TransitiveTagKeys.member.N; <= 50
  std::optional<std::string> external_id;        // 2..1224 of [\w+=,.@:/-]
  std::optional<std::string> source_identity;    // 2..64 of [\w+=,.@-]
  std::optional<std::string> serial_number;      // 9..256 of [\w+=/:,.@-] (MFA: unsupported,
  std::optional<std::string> token_code;         // 6 digits               carried for the broker)
};

// Reads the AssumeRole parameters. Member lists are "<List>.member.N[.<field>]" with N a
// positive decimal without leading zeros; gaps are allowed, order is by N. Unknown top-level
// parameters are ignored (as AWS does); a malformed or unknown member name of a known list
// ("Tags.member.x.Key", "Tags.member.1.Name") is a ValidationError. Every constraint failure
// is collected into one ValidationError, e.g.
//   "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy
//    constraint: Member must have length greater than or equal to 2"
//   "2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint:
//    Member must not be null; Value '100' at 'durationSeconds' failed to satisfy constraint:
//    Member must have value greater than or equal to 900"
// Field paths are AWS's: roleArn, roleSessionName, durationSeconds, policy, policyArns,
// policyArns.N.member.arn, tags, tags.N.member.key, tags.N.member.value, transitiveTagKeys,
// transitiveTagKeys.N.member, externalId, sourceIdentity, serialNumber, tokenCode.
StsResult<AssumeRoleRequest> ParseAssumeRole(const FormParams& params);

// ---- responses ----

// XML character escaping for text and attribute values: & < > " ' as entities. Bytes that XML
// 1.0 cannot carry (C0 controls other than tab/CR/LF, invalid UTF-8) are replaced by U+FFFD.
std::string XmlEscape(std::string_view text);

struct AssumeRoleResult {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string expiration;                 // ISO 8601 UTC, "2026-11-28T16:33:50Z"
  std::string assumed_role_id;            // "AROA...:<session name>"
  std::string assumed_role_arn;           // "arn:aws:sts::<account>:assumed-role/<role>/<session>"
  std::optional<int> packed_policy_size;  // percent, present when a policy or tags were sent
  std::optional<std::string> source_identity;
};

// <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
// [SourceIdentity] AssumedRoleUser{AssumedRoleId,Arn} Credentials{AccessKeyId,
// SecretAccessKey,SessionToken,Expiration} [PackedPolicySize]</AssumeRoleResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></AssumeRoleResponse>  (Content-Type text/xml)
std::string WriteAssumeRoleResponse(const AssumeRoleResult& result, std::string_view request_id);

struct CallerIdentity {
  std::string arn;
  std::string user_id;
  std::string account;
};
std::string WriteGetCallerIdentityResponse(const CallerIdentity& identity,
                                           std::string_view request_id);

// <ErrorResponse xmlns=...><Error><Type>Sender|Receiver</Type><Code/><Message/></Error>
// <RequestId/></ErrorResponse>; Type is Receiver for 5xx codes, Sender otherwise. The
// error's debug_detail is never written.
std::string WriteErrorResponse(const StsError& error, std::string_view request_id);

// HTTP status of an STS error code: AccessDenied 403, ExpiredToken 400, InvalidClientTokenId
// 403, SignatureDoesNotMatch 403, RequestExpired 400, IncompleteSignature 400,
// MissingAuthenticationToken 403, MalformedPolicyDocument 400, PackedPolicyTooLarge 400,
// RegionDisabled 403, ValidationError 400, InvalidAction 400, MissingAction 400,
// InvalidQueryParameter 400, MalformedQueryString 404 (sic, per AWS), InvalidParameterValue 400,
// InternalFailure 500, ServiceUnavailable 503, Throttling 400; any other code 400.
int HttpStatusForStsError(std::string_view code);

inline constexpr std::string_view kXmlContentType = "text/xml";

}  // namespace xrole::sts

#endif  // XROLE_STS_PROTOCOL_H_
