// document.h: the parsed form of one IAM policy document (the AST). It stays faithful to the
// JSON: every string-or-array element is normalised to a list, the Not* forms are flags, and
// every statement and condition clause keeps its JSON path and source location so errors and
// explanations can point at the user's text. Produced by parser.h, consumed by the validator,
// the reference evaluator and the compiler. Immutable once built.
#ifndef XROLE_POLICY_DOCUMENT_H_
#define XROLE_POLICY_DOCUMENT_H_

#include <optional>
#include <string>
#include <vector>

#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::policy {

enum class PolicyVersion { k2008, k2012 };

// Base condition operators (without set qualifier or IfExists).
enum class BaseOperator {
  kStringEquals,
  kStringNotEquals,
  kStringEqualsIgnoreCase,
  kStringNotEqualsIgnoreCase,
  kStringLike,
  kStringNotLike,
  kNumericEquals,
  kNumericNotEquals,
  kNumericLessThan,
  kNumericLessThanEquals,
  kNumericGreaterThan,
  kNumericGreaterThanEquals,
  kDateEquals,
  kDateNotEquals,
  kDateLessThan,
  kDateLessThanEquals,
  kDateGreaterThan,
  kDateGreaterThanEquals,
  kBool,
  kBinaryEquals,
  kIpAddress,
  kNotIpAddress,
  kArnEquals,
  kArnLike,
  kArnNotEquals,
  kArnNotLike,
  kNull,
};

enum class SetQualifier { kNone, kForAllValues, kForAnyValue };

struct PrincipalBlock {
  bool wildcard = false;  // "*" or {"AWS": "*"}
  std::vector<std::string> aws, service, federated, canonical_user;
};

struct ConditionClause {
  std::string operator_name;  // as written, e.g. "ForAnyValue:StringLikeIfExists"
  BaseOperator op = BaseOperator::kStringEquals;
  SetQualifier set = SetQualifier::kNone;
  bool if_exists = false;
  std::string key;        // as written
  std::string key_lower;  // ASCII-lower-cased; context lookups use this
  // JSON strings, numbers (text as written) and booleans ("true"/"false").
  std::vector<std::string> values;
  std::string path;  // e.g. "Statement[1].Condition.StringLike.s3:prefix"
  SourceLocation location;
};

struct Statement {
  std::optional<std::string> sid;
  Effect effect = Effect::kAllow;
  std::optional<PrincipalBlock> principal;  // Principal or NotPrincipal, when present
  bool not_principal = false;
  std::vector<std::string> actions;  // Action or NotAction patterns
  bool not_action = false;
  std::optional<std::vector<std::string>> resources;  // Resource or NotResource, when present
  bool not_resource = false;
  std::vector<ConditionClause> conditions;  // implicit AND
  int index = 0;                            // position in the Statement list (0-based)
  std::string path;  // "Statement[3]" (or "Statement" for a single statement object)
  SourceLocation location;
};

struct PolicyDocument {
  PolicyKind kind = PolicyKind::kIdentity;
  PolicyVersion version = PolicyVersion::k2008;
  bool version_present = false;
  std::optional<std::string> id;
  std::vector<Statement> statements;
  std::size_t size_without_whitespace = 0;  // characters outside JSON whitespace
};

}  // namespace xrole::policy

#endif  // XROLE_POLICY_DOCUMENT_H_
