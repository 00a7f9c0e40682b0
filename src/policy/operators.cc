#include "policy/operators.h"

#include "common/strings.h"

namespace xrole::policy {
namespace {

struct OperatorEntry {
  std::string_view name;
  BaseOperator op;
};

constexpr OperatorEntry kOperators[] = {
    {"StringEquals", BaseOperator::kStringEquals},
    {"StringNotEquals", BaseOperator::kStringNotEquals},
    {"StringEqualsIgnoreCase", BaseOperator::kStringEqualsIgnoreCase},
    {"StringNotEqualsIgnoreCase", BaseOperator::kStringNotEqualsIgnoreCase},
    {"StringLike", BaseOperator::kStringLike},
    {"StringNotLike", BaseOperator::kStringNotLike},
    {"NumericEquals", BaseOperator::kNumericEquals},
    {"NumericNotEquals", BaseOperator::kNumericNotEquals},
    {"NumericLessThan", BaseOperator::kNumericLessThan},
    {"NumericLessThanEquals", BaseOperator::kNumericLessThanEquals},
    {"NumericGreaterThan", BaseOperator::kNumericGreaterThan},
    {"NumericGreaterThanEquals", BaseOperator::kNumericGreaterThanEquals},
    {"DateEquals", BaseOperator::kDateEquals},
    {"DateNotEquals", BaseOperator::kDateNotEquals},
    {"DateLessThan", BaseOperator::kDateLessThan},
    {"DateLessThanEquals", BaseOperator::kDateLessThanEquals},
    {"DateGreaterThan", BaseOperator::kDateGreaterThan},
    {"DateGreaterThanEquals", BaseOperator::kDateGreaterThanEquals},
    {"Bool", BaseOperator::kBool},
    {"BinaryEquals", BaseOperator::kBinaryEquals},
    {"IpAddress", BaseOperator::kIpAddress},
    {"NotIpAddress", BaseOperator::kNotIpAddress},
    {"ArnEquals", BaseOperator::kArnEquals},
    {"ArnLike", BaseOperator::kArnLike},
    {"ArnNotEquals", BaseOperator::kArnNotEquals},
    {"ArnNotLike", BaseOperator::kArnNotLike},
    {"Null", BaseOperator::kNull},
};

}  // namespace

std::optional<OperatorSpec> SplitOperatorName(std::string_view name) {
  OperatorSpec spec;
  constexpr std::string_view kForAll = "ForAllValues:";
  constexpr std::string_view kForAny = "ForAnyValue:";
  constexpr std::string_view kIfExists = "IfExists";
  if (StartsWithIgnoreCase(name, kForAll)) {
    spec.set = SetQualifier::kForAllValues;
    name.remove_prefix(kForAll.size());
  } else if (StartsWithIgnoreCase(name, kForAny)) {
    spec.set = SetQualifier::kForAnyValue;
    name.remove_prefix(kForAny.size());
  }
  for (const OperatorEntry& entry : kOperators) {
    if (EqualsIgnoreCase(entry.name, name)) {
      spec.op = entry.op;
      return spec;
    }
  }
  if (EndsWithIgnoreCase(name, kIfExists)) {
    name.remove_suffix(kIfExists.size());
    for (const OperatorEntry& entry : kOperators) {
      if (EqualsIgnoreCase(entry.name, name)) {
        spec.op = entry.op;
        spec.if_exists = true;
        return spec;
      }
    }
  }
  return std::nullopt;
}

std::optional<OperatorSpec> ParseConditionOperator(std::string_view name) {
  std::optional<OperatorSpec> spec = SplitOperatorName(name);
  if (spec && spec->op == BaseOperator::kNull && spec->if_exists) return std::nullopt;
  return spec;
}

std::string_view BaseOperatorName(BaseOperator op) {
  for (const OperatorEntry& entry : kOperators) {
    if (entry.op == op) return entry.name;
  }
  return "StringEquals";
}

bool IsNegatedOperator(BaseOperator op) { return PositiveOperatorOf(op) != op; }

BaseOperator PositiveOperatorOf(BaseOperator op) {
  switch (op) {
    case BaseOperator::kStringNotEquals:
      return BaseOperator::kStringEquals;
    case BaseOperator::kStringNotEqualsIgnoreCase:
      return BaseOperator::kStringEqualsIgnoreCase;
    case BaseOperator::kStringNotLike:
      return BaseOperator::kStringLike;
    case BaseOperator::kNumericNotEquals:
      return BaseOperator::kNumericEquals;
    case BaseOperator::kDateNotEquals:
      return BaseOperator::kDateEquals;
    case BaseOperator::kNotIpAddress:
      return BaseOperator::kIpAddress;
    case BaseOperator::kArnNotEquals:
    case BaseOperator::kArnNotLike:
      return BaseOperator::kArnLike;
    default:
      return op;
  }
}

}  // namespace xrole::policy
