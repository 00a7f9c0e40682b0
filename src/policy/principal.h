// principal.h: who is asking (iam-semantics.md 2.6). The caller is read from
// Request::principal once per evaluation; Principal and NotPrincipal blocks of resource and
// trust policies are matched against it. Shared by both evaluators.
#ifndef XROLE_POLICY_PRINCIPAL_H_
#define XROLE_POLICY_PRINCIPAL_H_

#include <string>
#include <string_view>

#include "policy/document.h"
#include "xrole/policy.h"

namespace xrole::policy {

struct Caller {
  enum class Kind { kRoot, kUser, kRoleSession, kFederatedUser, kService, kAnonymous };
  Kind kind = Kind::kAnonymous;
  std::string partition = "aws";
  std::string account;       // "" for services and anonymous callers
  std::string arn;           // user / session / federated-user / root ARN; service name
  std::string role_arn;      // kRoleSession: the role's ARN, with path when known
  std::string role_name;     // kRoleSession
  std::string session_name;  // kRoleSession

  bool is_session() const { return kind == Kind::kRoleSession || kind == Kind::kFederatedUser; }
};

// Reads the caller from the request:
//   arn:aws:iam::A:root or a bare 12-digit account id   -> kRoot
//   arn:aws:iam::A:user/path/name                        -> kUser
//   arn:aws:sts::A:assumed-role/Role/Session             -> kRoleSession; role_arn is the
//       context's aws:PrincipalArn when that is a role ARN of the same account and name (it
//       carries the path), else arn:aws:iam::A:role/Role
//   arn:aws:iam::A:role/path/Role                        -> kRoleSession of that role (session
//       name unknown: matches no session ARN)
//   arn:aws:sts::A:federated-user/name                   -> kFederatedUser
//   *.amazonaws.com (or any name without ':')             -> kService
//   "", "*", "anonymous" or anything else                 -> kAnonymous
Caller ParseCaller(const Request& request);

// The caller's kind and account only, read without allocating (the evaluator's hot path; the
// full Caller is built only when a Principal block must be matched). ParseCaller classifies
// through this function, so the two always agree. `account` points into `principal`.
struct CallerSummary {
  Caller::Kind kind = Caller::Kind::kAnonymous;
  std::string_view account;
};
CallerSummary SummarizeCaller(std::string_view principal);

// Strength of a Principal match, weakest first (4.2/4.4).
enum class PrincipalMatch { kNoMatch, kAccountLevel, kViaRoleOrUser, kDirect };

// Best match of the caller against any value of a Principal block. A listed account matches
// its root user at kDirect, or with !semantics.account_principal_is_direct_for_root at
// kAccountLevel like every other principal of the account.
PrincipalMatch MatchPrincipal(const PrincipalBlock& block, const Caller& caller,
                              const Semantics& semantics);

// NotPrincipal (only meaningful with Deny): true when the caller is exempt, i.e. the statement
// does NOT apply to it. Docs: every level of the caller's chain must be listed (account and own
// ARN; for a role session also the role), and a caller with a permissions boundary is never
// exempt. With semantics.not_principal_exempts_any_match the caller is exempt when any listed
// value matches it as a Principal value would (MatchPrincipal), boundary or not.
bool NotPrincipalExempts(const PrincipalBlock& block, const Caller& caller,
                         bool caller_has_boundary, const Semantics& semantics);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_PRINCIPAL_H_
