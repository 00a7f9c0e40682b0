#include "policy/conditions.h"

#include <algorithm>
#include <cstddef>

#include "common/strings.h"
#include "policy/arn.h"

namespace xrole::policy {
namespace {

const Context& EmptyContext() {
  static const Context* const kEmpty = new Context();
  return *kEmpty;
}

bool HasVariableReference(const Template& value) {
  for (const Template::Part& part : value.parts()) {
    if (part.kind == Template::Part::Kind::kVariable) return true;
  }
  return false;
}

// Numeric and date comparisons share their shape: x <op> p.
template <typename T>
bool Ordered(BaseOperator op, T x, T p) {
  switch (op) {
    case BaseOperator::kNumericEquals:
    case BaseOperator::kNumericNotEquals:
    case BaseOperator::kDateEquals:
    case BaseOperator::kDateNotEquals:
      return x == p;
    case BaseOperator::kNumericLessThan:
    case BaseOperator::kDateLessThan:
      return x < p;
    case BaseOperator::kNumericLessThanEquals:
    case BaseOperator::kDateLessThanEquals:
      return x <= p;
    case BaseOperator::kNumericGreaterThan:
    case BaseOperator::kDateGreaterThan:
      return x > p;
    case BaseOperator::kNumericGreaterThanEquals:
    case BaseOperator::kDateGreaterThanEquals:
      return x >= p;
    default:
      return false;
  }
}

bool IsLikeOperator(BaseOperator op) {
  return op == BaseOperator::kStringLike || op == BaseOperator::kStringNotLike;
}

bool IsIgnoreCaseOperator(BaseOperator op) {
  return op == BaseOperator::kStringEqualsIgnoreCase ||
         op == BaseOperator::kStringNotEqualsIgnoreCase;
}

// Outcome of one positive comparison of a request value with one policy value.
enum class Cmp { kFalse, kTrue, kUnresolved };

bool IsEmptyForNull(const ContextValue& value) {
  return value.values.empty() || (value.values.size() == 1 && value.values[0].empty());
}

bool IsEmptySet(const ContextValue& value, const Semantics& semantics) {
  if (value.values.empty()) return true;
  return semantics.single_empty_string_is_empty_set && value.values.size() == 1 &&
         value.values[0].empty();
}

std::string DescribeContextValue(const ContextValue* value) {
  if (value == nullptr) return "key absent";
  std::string out;
  if (value->is_list) {
    out = "context list [";
    for (std::size_t i = 0; i < value->values.size(); ++i) {
      if (i > 0) out += ", ";
      out += "`" + value->values[i] + "`";
    }
    out += "]";
    return out;
  }
  out = "context value `";
  out += value->values.empty() ? std::string() : value->values[0];
  out += "`";
  return out;
}

}  // namespace

OperandFamily FamilyOf(BaseOperator op) {
  switch (op) {
    case BaseOperator::kStringEquals:
    case BaseOperator::kStringNotEquals:
    case BaseOperator::kStringEqualsIgnoreCase:
    case BaseOperator::kStringNotEqualsIgnoreCase:
    case BaseOperator::kStringLike:
    case BaseOperator::kStringNotLike:
      return OperandFamily::kString;
    case BaseOperator::kNumericEquals:
    case BaseOperator::kNumericNotEquals:
    case BaseOperator::kNumericLessThan:
    case BaseOperator::kNumericLessThanEquals:
    case BaseOperator::kNumericGreaterThan:
    case BaseOperator::kNumericGreaterThanEquals:
      return OperandFamily::kNumeric;
    case BaseOperator::kDateEquals:
    case BaseOperator::kDateNotEquals:
    case BaseOperator::kDateLessThan:
    case BaseOperator::kDateLessThanEquals:
    case BaseOperator::kDateGreaterThan:
    case BaseOperator::kDateGreaterThanEquals:
      return OperandFamily::kDate;
    case BaseOperator::kBool:
      return OperandFamily::kBool;
    case BaseOperator::kBinaryEquals:
      return OperandFamily::kBinary;
    case BaseOperator::kIpAddress:
    case BaseOperator::kNotIpAddress:
      return OperandFamily::kIp;
    case BaseOperator::kArnEquals:
    case BaseOperator::kArnLike:
    case BaseOperator::kArnNotEquals:
    case BaseOperator::kArnNotLike:
      return OperandFamily::kArn;
    case BaseOperator::kNull:
      return OperandFamily::kNull;
  }
  return OperandFamily::kString;
}

CompiledCondition CompiledCondition::Compile(const ConditionClause& clause, bool variables_enabled,
                                             const Semantics& semantics) {
  CompiledCondition c;
  c.operator_name_ = clause.operator_name;
  c.key_ = clause.key;
  c.key_lower_ = AsciiLower(clause.key.empty() ? clause.key_lower : clause.key);
  // The name as written decides (case-insensitively); the AST fields cover hand-built clauses.
  std::optional<OperatorSpec> spec = ParseConditionOperator(clause.operator_name);
  if (spec.has_value()) {
    c.op_ = spec->op;
    c.set_ = spec->set;
    c.if_exists_ = spec->if_exists;
  } else {
    c.op_ = clause.op;
    c.set_ = clause.set;
    c.if_exists_ = clause.if_exists;
  }
  if (c.operator_name_.empty()) {
    if (c.set_ == SetQualifier::kForAllValues) c.operator_name_ = "ForAllValues:";
    if (c.set_ == SetQualifier::kForAnyValue) c.operator_name_ = "ForAnyValue:";
    c.operator_name_ += BaseOperatorName(c.op_);
    if (c.if_exists_) c.operator_name_ += "IfExists";
  }
  c.negated_ = IsNegatedOperator(c.op_);
  c.family_ = FamilyOf(c.op_);

  c.operands_.reserve(clause.values.size());
  for (const std::string& text : clause.values) {
    ConditionOperand operand;
    operand.text = text;
    switch (c.family_) {
      case OperandFamily::kString:
      case OperandFamily::kBool: {
        operand.value = Template::Parse(text, variables_enabled);
        operand.context_free = !HasVariableReference(operand.value);
        if (operand.context_free) {
          if (c.family_ == OperandFamily::kString && IsLikeOperator(c.op_)) {
            operand.value.ExpandToGlob(EmptyContext(), &operand.glob);
          } else {
            operand.value.ExpandToText(EmptyContext(), &operand.literal,
                                       !semantics.variable_escapes_in_string_equals);
          }
          if (c.family_ == OperandFamily::kBool) operand.boolean = ParseBool(operand.literal);
        }
        break;
      }
      case OperandFamily::kArn: {
        ArnFields fields = SplitArn(text, /*brace_aware=*/true);
        operand.arn_field_count = fields.count;
        for (int i = 0; i < fields.count && i < 6; ++i) {
          operand.arn_fields[i] = Template::Parse(fields.field[i], variables_enabled);
          if (HasVariableReference(operand.arn_fields[i])) operand.context_free = false;
        }
        if (operand.context_free) {
          for (int i = 0; i < fields.count && i < 6; ++i) {
            operand.arn_fields[i].ExpandToGlob(EmptyContext(), &operand.arn_globs[i]);
          }
        }
        break;
      }
      case OperandFamily::kNumeric:
        operand.number = ParseNumber(text);
        break;
      case OperandFamily::kDate:
        operand.date = ParseDateMillis(text, semantics.epoch_dates_in_milliseconds,
                                       semantics.four_digit_date_is_year);
        break;
      case OperandFamily::kBinary:
        operand.bytes = DecodeBase64(text);
        break;
      case OperandFamily::kIp:
        operand.network = ParseIpNetwork(text);
        break;
      case OperandFamily::kNull:
        operand.null_bool = ParseBool(text);
        break;
    }
    c.operands_.push_back(std::move(operand));
  }
  return c;
}

bool CompiledCondition::MatchValue(std::string_view x, const Context& context,
                                   const Semantics& semantics) const {
  // A value of a negated typed operator that does not parse counts as matched under the
  // oracle's semantics, so the NOR fails (Semantics::negated_operators_fail_on_unparsable_values).
  const Cmp unparsable =
      negated_ && semantics.negated_operators_fail_on_unparsable_values ? Cmp::kTrue : Cmp::kFalse;
  // OR over the policy values for positive operators; NOR for negated ones. An unresolvable
  // variable never matches; under a negated operator it either counts as "not equal" (docs)
  // or makes the whole test fail (Semantics::unresolved_variable_matches_negated_operator).
  auto aggregate = [&](auto&& compare) {
    bool unresolved = false;
    for (const ConditionOperand& operand : operands_) {
      Cmp result = compare(operand);
      if (result == Cmp::kTrue) return !negated_;
      if (result == Cmp::kUnresolved) unresolved = true;
    }
    if (!negated_) return false;
    return !(unresolved && !semantics.unresolved_variable_matches_negated_operator);
  };

  switch (family_) {
    case OperandFamily::kString: {
      const bool like = IsLikeOperator(op_);
      const bool ignore_case = IsIgnoreCaseOperator(op_);
      return aggregate([&](const ConditionOperand& operand) {
        if (like) {
          if (operand.context_free) return operand.glob.Matches(x) ? Cmp::kTrue : Cmp::kFalse;
          Glob glob;
          if (!operand.value.ExpandToGlob(context, &glob,
                                          !semantics.empty_variable_value_substitutes)) {
            return Cmp::kUnresolved;
          }
          return glob.Matches(x) ? Cmp::kTrue : Cmp::kFalse;
        }
        std::string expanded;
        const std::string* p = &operand.literal;
        if (!operand.context_free) {
          if (!operand.value.ExpandToText(context, &expanded,
                                          !semantics.variable_escapes_in_string_equals,
                                          !semantics.empty_variable_value_substitutes)) {
            return Cmp::kUnresolved;
          }
          p = &expanded;
        }
        bool equal = ignore_case ? EqualsIgnoreCase(x, *p) : x == *p;
        return equal ? Cmp::kTrue : Cmp::kFalse;
      });
    }
    case OperandFamily::kBool: {
      const std::optional<bool> xb = ParseBool(x);
      return aggregate([&](const ConditionOperand& operand) {
        std::optional<bool> p = operand.boolean;
        if (!operand.context_free) {
          std::string expanded;
          if (!operand.value.ExpandToText(context, &expanded,
                                          !semantics.variable_escapes_in_string_equals,
                                          !semantics.empty_variable_value_substitutes)) {
            return Cmp::kUnresolved;
          }
          p = ParseBool(expanded);
        }
        return (xb.has_value() && p.has_value() && *xb == *p) ? Cmp::kTrue : Cmp::kFalse;
      });
    }
    case OperandFamily::kNumeric: {
      const std::optional<long double> xn = ParseNumber(x);
      return aggregate([&](const ConditionOperand& operand) {
        if (!xn.has_value() || !operand.number.has_value()) return unparsable;
        return Ordered(op_, *xn, *operand.number) ? Cmp::kTrue : Cmp::kFalse;
      });
    }
    case OperandFamily::kDate: {
      const std::optional<std::int64_t> xd = ParseDateMillis(
          x, semantics.epoch_dates_in_milliseconds, semantics.four_digit_date_is_year);
      return aggregate([&](const ConditionOperand& operand) {
        if (!xd.has_value() || !operand.date.has_value()) return unparsable;
        return Ordered(op_, *xd, *operand.date) ? Cmp::kTrue : Cmp::kFalse;
      });
    }
    case OperandFamily::kBinary: {
      const std::optional<std::string> xb = DecodeBase64(x);
      return aggregate([&](const ConditionOperand& operand) {
        return (xb.has_value() && operand.bytes.has_value() && *xb == *operand.bytes) ? Cmp::kTrue
                                                                                      : Cmp::kFalse;
      });
    }
    case OperandFamily::kIp: {
      const std::optional<IpAddress> xa = ParseIpAddress(x);
      const bool not_ip = op_ == BaseOperator::kNotIpAddress;
      return aggregate([&](const ConditionOperand& operand) {
        if (!operand.network.has_value() || !xa.has_value()) {
          // The oracle: NotIpAddress is false for a value that is not an address or network.
          return not_ip && semantics.oracle_ip_quirks ? Cmp::kTrue : Cmp::kFalse;
        }
        const IpNetwork& net = *operand.network;
        if (semantics.oracle_ip_quirks) {
          // NotIpAddress with a bare value of the other address family than the caller's is
          // false: count the value as matched so the NOR fails.
          if (not_ip && !net.prefix_given && net.address.v6 != xa->v6) return Cmp::kTrue;
          // A bare IPv6 address matches only its identical text.
          if (net.address.v6 && !net.prefix_given) {
            return x == operand.text ? Cmp::kTrue : Cmp::kFalse;
          }
          if (!net.address.v6 && net.prefix == 0) {
            return (!xa->v6 &&
                    std::equal(xa->bytes.begin(), xa->bytes.begin() + 4, net.address.bytes.begin()))
                       ? Cmp::kTrue
                       : Cmp::kFalse;
          }
        }
        return NetworkContains(net, *xa) ? Cmp::kTrue : Cmp::kFalse;
      });
    }
    case OperandFamily::kArn: {
      // A request value is an ARN when it has six fields and starts with "arn"; the fields are
      // then globbed one by one, case-sensitively. A variable is expanded only when the fields
      // before it matched.
      const ArnFields xf = SplitArn(x);
      const bool is_arn = xf.count == 6 && xf.field[0] == "arn";
      return aggregate([&](const ConditionOperand& operand) {
        if (!is_arn || operand.arn_field_count != 6) return unparsable;
        for (int i = 0; i < 6; ++i) {
          if (operand.context_free) {
            if (!operand.arn_globs[i].Matches(xf.field[i])) return Cmp::kFalse;
            continue;
          }
          Glob glob;
          if (!operand.arn_fields[i].ExpandToGlob(context, &glob,
                                                  !semantics.empty_variable_value_substitutes)) {
            return Cmp::kUnresolved;
          }
          if (!glob.Matches(xf.field[i])) return Cmp::kFalse;
        }
        return Cmp::kTrue;
      });
    }
    case OperandFamily::kNull:
      return false;  // Null is decided on presence, in Evaluate
  }
  return false;
}

bool CompiledCondition::Evaluate(const Context& context, const Semantics& semantics,
                                 std::string* why) const {
  const ContextValue* value = context.Find(key_lower_);
  bool result = false;
  if (family_ == OperandFamily::kNull) {
    // "true": the key must be absent; "false": present; other values never hold. ORed.
    const bool present =
        value != nullptr && !(semantics.null_treats_empty_as_absent && IsEmptyForNull(*value));
    for (const ConditionOperand& operand : operands_) {
      if (operand.null_bool.has_value() && *operand.null_bool == !present) {
        result = true;
        break;
      }
    }
  } else if (set_ == SetQualifier::kForAllValues) {
    result = true;
    if (value != nullptr && !IsEmptySet(*value, semantics)) {
      for (const std::string& x : value->values) {
        if (!MatchValue(x, context, semantics)) {
          result = false;
          break;
        }
      }
    }
  } else if (set_ == SetQualifier::kForAnyValue) {
    // IfExists does not rescue ForAnyValue on an absent key (8.3 #14).
    if (value != nullptr && !IsEmptySet(*value, semantics)) {
      for (const std::string& x : value->values) {
        if (MatchValue(x, context, semantics)) {
          result = true;
          break;
        }
      }
    }
  } else if (value == nullptr) {
    result = if_exists_ || negated_;
  } else if (value->is_list || value->values.size() != 1) {
    result = false;  // a plain operator never matches a multivalued key (3.7)
  } else {
    result = MatchValue(value->values[0], context, semantics);
  }
  if (!result && why != nullptr) {
    *why = "condition `" + operator_name_ + "` on `" + key_ + "` is false (" +
           DescribeContextValue(value) + ")";
  }
  return result;
}

}  // namespace xrole::policy
