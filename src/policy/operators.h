// operators.h: the condition operator vocabulary (iam-semantics.md 3.5), one table shared by the
// parser (canonical spelling, validation), the compiled condition clauses and the reference
// evaluator.
#ifndef XROLE_POLICY_OPERATORS_H_
#define XROLE_POLICY_OPERATORS_H_

#include <optional>
#include <string_view>

#include "policy/document.h"

namespace xrole::policy {

// A condition operator name split into its parts.
struct OperatorSpec {
  BaseOperator op = BaseOperator::kStringEquals;
  SetQualifier set = SetQualifier::kNone;
  bool if_exists = false;
};

// Splits `[ForAllValues:|ForAnyValue:]<BaseOperator>[IfExists]`, ASCII case-insensitively.
// nullopt for unknown base operators. `NullIfExists` is returned as written (op kNull with
// if_exists); whether it is allowed is the caller's rule.
std::optional<OperatorSpec> SplitOperatorName(std::string_view name);

// SplitOperatorName, rejecting `NullIfExists` (IfExists cannot be added to Null).
std::optional<OperatorSpec> ParseConditionOperator(std::string_view name);

// The canonical spelling of a base operator ("StringEquals").
std::string_view BaseOperatorName(BaseOperator op);

// True for the operators whose values are NORed (StringNotEquals, NotIpAddress, ...).
bool IsNegatedOperator(BaseOperator op);

// The positive operator a negated one negates (StringNotLike -> StringLike); `op` otherwise.
BaseOperator PositiveOperatorOf(BaseOperator op);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_OPERATORS_H_
