// conditions.h: condition clauses of the compiled evaluator (iam-semantics.md 3.4-3.7). The
// compiler turns each ConditionClause of the AST into a CompiledCondition once: operator name
// resolved, key lower-cased, policy values parsed into their operator's type (numbers, dates in
// epoch milliseconds, booleans, base64 bytes, CIDR networks, split ARNs) and string values
// split into Templates (policy variables). Evaluation against a request context then parses
// only the request's values and allocates nothing unless a policy variable must be expanded.
#ifndef XROLE_POLICY_CONDITIONS_H_
#define XROLE_POLICY_CONDITIONS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/document.h"
#include "policy/glob.h"
#include "policy/operators.h"
#include "policy/values.h"
#include "policy/variables.h"
#include "xrole/policy.h"

namespace xrole::policy {

// The value family an operator compares in.
enum class OperandFamily { kString, kNumeric, kDate, kBool, kBinary, kIp, kArn, kNull };
OperandFamily FamilyOf(BaseOperator op);

// One policy value of a clause, parsed for its operator's family at compile time.
struct ConditionOperand {
  std::string text;  // as written
  // kString, kBool and kArn: policy variables are substituted in these families only.
  Template value;
  // True when the expansion does not depend on the request (no ${key} reference; escapes
  // allowed): `literal`, `glob` and `arn_globs` then hold the expansion.
  bool context_free = true;
  std::string literal;  // kString (equality operators), kBool
  Glob glob;            // kString (StringLike / StringNotLike)
  // kArn: the value split into its fields (brace-aware), one Template / Glob each; a value
  // without exactly six fields matches nothing.
  int arn_field_count = 0;
  std::array<Template, 6> arn_fields;
  std::array<Glob, 6> arn_globs;
  std::optional<long double> number;  // kNumeric
  std::optional<std::int64_t> date;   // kDate, epoch milliseconds
  std::optional<bool> boolean;        // kBool (context-free values)
  std::optional<std::string> bytes;   // kBinary, decoded
  std::optional<IpNetwork> network;   // kIp
  std::optional<bool> null_bool;      // kNull: "true" (key must be absent) / "false" (present)
};

// One (operator, key, values) clause, ready to evaluate.
class CompiledCondition {
 public:
  // `variables_enabled`: the document's Version allows ${...} (or Semantics says they apply to
  // 2008 documents too). `semantics` fixes how epoch date values are read.
  static CompiledCondition Compile(const ConditionClause& clause, bool variables_enabled,
                                   const Semantics& semantics);

  // The clause's truth for `context` (3.4-3.7). When it is false and `why` is non-null, `why`
  // receives one readable line naming the clause and the context value used.
  bool Evaluate(const Context& context, const Semantics& semantics, std::string* why) const;

  BaseOperator op() const { return op_; }
  SetQualifier set() const { return set_; }
  bool if_exists() const { return if_exists_; }
  bool negated() const { return negated_; }
  OperandFamily family() const { return family_; }
  const std::string& key_lower() const { return key_lower_; }
  const std::string& operator_name() const { return operator_name_; }
  const std::string& key() const { return key_; }
  const std::vector<ConditionOperand>& operands() const { return operands_; }

  // m(x) of iam-semantics 3.6: the base operator's test of one request value against every
  // policy value (OR for positive operators, NOR for negated ones).
  bool MatchValue(std::string_view x, const Context& context, const Semantics& semantics) const;

 private:
  BaseOperator op_ = BaseOperator::kStringEquals;
  SetQualifier set_ = SetQualifier::kNone;
  bool if_exists_ = false;
  bool negated_ = false;
  OperandFamily family_ = OperandFamily::kString;
  std::string operator_name_;
  std::string key_;
  std::string key_lower_;
  std::vector<ConditionOperand> operands_;
};

}  // namespace xrole::policy

#endif  // XROLE_POLICY_CONDITIONS_H_
