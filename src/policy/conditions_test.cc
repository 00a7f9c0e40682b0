// Unit tests of the compiled condition clauses (conditions.h): iam-semantics.md 3.4-3.8 and
// edge cases E16-E44.
#include "policy/conditions.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace xrole::policy {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

ConditionClause Clause(const std::string& op, const std::string& key,
                       std::vector<std::string> values) {
  ConditionClause clause;
  clause.operator_name = op;
  std::optional<OperatorSpec> spec = ParseConditionOperator(op);
  EXPECT_TRUE(spec.has_value()) << op;
  if (spec.has_value()) {
    clause.op = spec->op;
    clause.set = spec->set;
    clause.if_exists = spec->if_exists;
  }
  clause.key = key;
  clause.key_lower = Lower(key);
  clause.values = std::move(values);
  return clause;
}

// Evaluates one clause; `variables` is the document's variable switch.
bool Holds(const std::string& op, const std::string& key, std::vector<std::string> values,
           const Context& context, const Semantics& semantics = {}, bool variables = true) {
  CompiledCondition condition =
      CompiledCondition::Compile(Clause(op, key, std::move(values)), variables, semantics);
  return condition.Evaluate(context, semantics, nullptr);
}

Context With(std::initializer_list<std::pair<std::string, ContextValue>> entries) {
  Context context;
  for (const auto& [key, value] : entries) context.Set(key, value);
  return context;
}

ContextValue S(std::string v) { return ContextValue::Scalar(std::move(v)); }
ContextValue L(std::vector<std::string> vs) { return ContextValue::List(std::move(vs)); }

TEST(ParseConditionOperatorTest, SplitsQualifierAndIfExistsCaseInsensitively) {
  auto spec = ParseConditionOperator("ForAnyValue:StringLikeIfExists");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->op, BaseOperator::kStringLike);
  EXPECT_EQ(spec->set, SetQualifier::kForAnyValue);
  EXPECT_TRUE(spec->if_exists);

  spec = ParseConditionOperator("forallvalues:stringnotequalsignorecase");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->op, BaseOperator::kStringNotEqualsIgnoreCase);
  EXPECT_EQ(spec->set, SetQualifier::kForAllValues);
  EXPECT_FALSE(spec->if_exists);

  EXPECT_FALSE(ParseConditionOperator("NullIfExists").has_value());
  EXPECT_FALSE(ParseConditionOperator("StringEqualz").has_value());
  EXPECT_FALSE(ParseConditionOperator("").has_value());
}

TEST(ConditionsTest, OperatorNameCaseDoesNotMatter) {
  Context ctx = With({{"aws:PrincipalTag/team", S("blue")}});
  EXPECT_TRUE(Holds("stringequals", "aws:PrincipalTag/team", {"blue"}, ctx));
  EXPECT_FALSE(Holds("STRINGNOTEQUALS", "aws:PrincipalTag/team", {"blue"}, ctx));
}

TEST(ConditionsTest, E18WildcardsAreLiteralInStringEquals) {
  Context ctx = With({{"aws:PrincipalTag/role", S("admin-1")}});
  EXPECT_FALSE(Holds("StringEquals", "aws:PrincipalTag/role", {"admin-*"}, ctx));
  EXPECT_TRUE(Holds("StringLike", "aws:PrincipalTag/role", {"admin-*"}, ctx));
  Context literal = With({{"aws:PrincipalTag/role", S("admin-*")}});
  EXPECT_TRUE(Holds("StringEquals", "aws:PrincipalTag/role", {"admin-*"}, literal));
}

TEST(ConditionsTest, E19E20MissingKeyPositiveFalseNegatedTrue) {
  Context empty;
  EXPECT_FALSE(Holds("StringEquals", "aws:ResourceTag/team", {"blue"}, empty));
  EXPECT_TRUE(Holds("StringNotEquals", "aws:PrincipalTag/team", {"blue"}, empty));
  EXPECT_FALSE(Holds("NumericLessThan", "s3:max-keys", {"10"}, empty));
  EXPECT_TRUE(Holds("NumericNotEquals", "s3:max-keys", {"10"}, empty));
  EXPECT_FALSE(Holds("Bool", "aws:SecureTransport", {"true"}, empty));
  EXPECT_TRUE(Holds("NotIpAddress", "aws:SourceIp", {"203.0.113.0/24"}, empty));
  EXPECT_TRUE(Holds("ArnNotLike", "aws:SourceArn", {"arn:aws:sns:*:*:*"}, empty));
  EXPECT_FALSE(Holds("ArnLike", "aws:SourceArn", {"arn:aws:sns:*:*:*"}, empty));
}

TEST(ConditionsTest, E21IfExistsOnNegatedOperator) {
  const std::vector<std::string> values = {"dev", "test"};
  EXPECT_TRUE(Holds("StringNotEqualsIfExists", "aws:RequestTag/env", values, Context()));
  EXPECT_TRUE(Holds("StringNotEqualsIfExists", "aws:RequestTag/env", values,
                    With({{"aws:RequestTag/env", S("prod")}})));
  EXPECT_FALSE(Holds("StringNotEqualsIfExists", "aws:RequestTag/env", values,
                     With({{"aws:RequestTag/env", S("dev")}})));
  EXPECT_TRUE(Holds("StringEqualsIfExists", "aws:RequestTag/env", values, Context()));
}

TEST(ConditionsTest, E22NegatedOperatorIsNor) {
  const std::vector<std::string> accounts = {"111122223333", "444455556666"};
  EXPECT_FALSE(Holds("StringNotEquals", "aws:PrincipalAccount", accounts,
                     With({{"aws:PrincipalAccount", S("111122223333")}})));
  EXPECT_TRUE(Holds("StringNotEquals", "aws:PrincipalAccount", accounts,
                    With({{"aws:PrincipalAccount", S("999999999999")}})));
}

TEST(ConditionsTest, E23ValuesAreOred) {
  Context ctx = With({{"aws:PrincipalTag/dept", S("legal")}});
  EXPECT_TRUE(Holds("StringEquals", "aws:PrincipalTag/dept", {"hr", "legal"}, ctx));
  EXPECT_FALSE(Holds("StringEquals", "aws:PrincipalTag/dept", {"hr", "finance"}, ctx));
}

TEST(ConditionsTest, E24KeyNameCaseInsensitiveValueCaseSensitive) {
  Context blue = With({{"aws:principaltag/team", S("Blue")}});
  Context lower = With({{"aws:principaltag/team", S("blue")}});
  EXPECT_TRUE(Holds("StringEquals", "AWS:PrincipalTag/Team", {"Blue"}, blue));
  EXPECT_FALSE(Holds("StringEquals", "AWS:PrincipalTag/Team", {"Blue"}, lower));
  EXPECT_TRUE(Holds("StringEqualsIgnoreCase", "AWS:PrincipalTag/Team", {"Blue"}, lower));
  EXPECT_FALSE(Holds("StringNotEqualsIgnoreCase", "AWS:PrincipalTag/Team", {"BLUE"}, lower));
}

TEST(ConditionsTest, E25E26ForAllValuesIsVacuouslyTrue) {
  const std::vector<std::string> allowed = {"env", "team"};
  EXPECT_TRUE(Holds("ForAllValues:StringEquals", "aws:TagKeys", allowed,
                    With({{"aws:TagKeys", L({"env", "team"})}})));
  EXPECT_FALSE(Holds("ForAllValues:StringEquals", "aws:TagKeys", allowed,
                     With({{"aws:TagKeys", L({"env", "owner"})}})));
  EXPECT_TRUE(Holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, Context()));
  EXPECT_TRUE(
      Holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, With({{"aws:TagKeys", L({})}})));
  EXPECT_TRUE(
      Holds("ForAllValues:StringEquals", "aws:TagKeys", allowed, With({{"aws:TagKeys", L({""})}})));
  EXPECT_FALSE(
      Holds("ForAnyValue:StringEquals", "aws:TagKeys", allowed, With({{"aws:TagKeys", L({})}})));
  EXPECT_FALSE(
      Holds("ForAnyValue:StringEquals", "aws:TagKeys", {""}, With({{"aws:TagKeys", L({""})}})));
}

TEST(ConditionsTest, SingleEmptyStringSemanticsSwitch) {
  Semantics oracle;
  oracle.single_empty_string_is_empty_set = false;
  Context ctx = With({{"aws:TagKeys", L({""})}});
  // Not an empty set: "" is one value that must satisfy the operator.
  EXPECT_FALSE(Holds("ForAllValues:StringEquals", "aws:TagKeys", {"env"}, ctx, oracle));
  EXPECT_TRUE(Holds("ForAnyValue:StringEquals", "aws:TagKeys", {""}, ctx, oracle));
  EXPECT_TRUE(Holds("ForAllValues:StringEquals", "aws:TagKeys", {"env"}, ctx));
}

TEST(ConditionsTest, E27ForAnyValueOnMissingKeyIsFalse) {
  EXPECT_FALSE(Holds("ForAnyValue:StringEquals", "aws:TagKeys", {"owner"}, Context()));
  EXPECT_TRUE(Holds("ForAnyValue:StringEquals", "aws:TagKeys", {"owner"},
                    With({{"aws:TagKeys", L({"env", "owner"})}})));
  // 8.3 #14: IfExists does not rescue ForAnyValue; ForAllValues stays true.
  EXPECT_FALSE(Holds("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", {"owner"}, Context()));
  EXPECT_TRUE(Holds("ForAllValues:StringEqualsIfExists", "aws:TagKeys", {"owner"}, Context()));
}

TEST(ConditionsTest, E28ForAllValuesWithNegatedOperator) {
  auto holds = [](std::vector<std::string> keys, bool present = true) {
    Context ctx;
    if (present) ctx.Set("aws:TagKeys", L(std::move(keys)));
    return Holds("ForAllValues:StringNotLike", "aws:TagKeys", {"key1*"}, ctx);
  };
  EXPECT_FALSE(holds({"key1:legal"}));
  EXPECT_FALSE(holds({"key1:hr", "key1:personnel"}));
  EXPECT_TRUE(holds({"key2:audit"}));
  EXPECT_TRUE(holds({}, /*present=*/false));
  EXPECT_FALSE(holds({"key1:x", "key2:y"}));
}

TEST(ConditionsTest, E29ForAnyValueWithNegatedOperator) {
  const std::vector<std::string> values = {"env", "team"};
  EXPECT_FALSE(Holds("ForAnyValue:StringNotEquals", "aws:TagKeys", values,
                     With({{"aws:TagKeys", L({"env"})}})));
  EXPECT_TRUE(Holds("ForAnyValue:StringNotEquals", "aws:TagKeys", values,
                    With({{"aws:TagKeys", L({"env", "owner"})}})));
  EXPECT_FALSE(Holds("ForAnyValue:StringNotEquals", "aws:TagKeys", values, Context()));
}

TEST(ConditionsTest, E30QualifierOnSingleValuedKey) {
  EXPECT_TRUE(Holds("ForAllValues:StringEquals", "aws:PrincipalOrgID", {"o-abc"},
                    With({{"aws:PrincipalOrgID", S("o-abc")}})));
  EXPECT_FALSE(Holds("ForAllValues:StringEquals", "aws:PrincipalOrgID", {"o-abc"},
                     With({{"aws:PrincipalOrgID", S("o-xyz")}})));
  EXPECT_TRUE(Holds("ForAllValues:StringEquals", "aws:PrincipalOrgID", {"o-abc"}, Context()));
}

TEST(ConditionsTest, E31PlainOperatorOnListNeverMatches) {
  Context ctx = With({{"aws:TagKeys", L({"env"})}});
  EXPECT_FALSE(Holds("StringEquals", "aws:TagKeys", {"env"}, ctx));
  EXPECT_FALSE(Holds("StringNotEquals", "aws:TagKeys", {"other"}, ctx));
  EXPECT_FALSE(Holds("StringEqualsIfExists", "aws:TagKeys", {"env"}, ctx));
}

TEST(ConditionsTest, E32NullChecksPresence) {
  Context user;
  Context session = With({{"aws:TokenIssueTime", S("2024-01-01T00:00:00Z")}});
  EXPECT_TRUE(Holds("Null", "aws:TokenIssueTime", {"true"}, user));
  EXPECT_FALSE(Holds("Null", "aws:TokenIssueTime", {"true"}, session));
  EXPECT_FALSE(Holds("Null", "aws:TokenIssueTime", {"false"}, user));
  EXPECT_TRUE(Holds("Null", "aws:TokenIssueTime", {"false"}, session));
  EXPECT_TRUE(Holds("Null", "aws:TokenIssueTime", {"TRUE"}, user));
  // Values are ORed; a value that is not a boolean never holds.
  EXPECT_TRUE(Holds("Null", "aws:TokenIssueTime", {"true", "false"}, session));
  EXPECT_FALSE(Holds("Null", "aws:TokenIssueTime", {"yes"}, session));
  EXPECT_FALSE(Holds("Null", "aws:TokenIssueTime", {"yes"}, user));
}

TEST(ConditionsTest, NullTreatsEmptyAsAbsentSwitch) {
  Context empty_string = With({{"s3:prefix", S("")}});
  Context empty_list = With({{"aws:TagKeys", L({})}});
  EXPECT_TRUE(Holds("Null", "s3:prefix", {"true"}, empty_string));
  EXPECT_TRUE(Holds("Null", "aws:TagKeys", {"true"}, empty_list));
  Semantics strict;
  strict.null_treats_empty_as_absent = false;
  EXPECT_FALSE(Holds("Null", "s3:prefix", {"true"}, empty_string, strict));
  EXPECT_FALSE(Holds("Null", "aws:TagKeys", {"true"}, empty_list, strict));
}

TEST(ConditionsTest, E33E34BoolAndBoolIfExists) {
  Context keys;
  Context no_mfa = With({{"aws:MultiFactorAuthPresent", S("false")}});
  Context mfa = With({{"aws:MultiFactorAuthPresent", S("true")}});
  EXPECT_FALSE(Holds("Bool", "aws:MultiFactorAuthPresent", {"false"}, keys));
  EXPECT_TRUE(Holds("Bool", "aws:MultiFactorAuthPresent", {"false"}, no_mfa));
  EXPECT_TRUE(Holds("BoolIfExists", "aws:MultiFactorAuthPresent", {"false"}, keys));
  EXPECT_FALSE(Holds("BoolIfExists", "aws:MultiFactorAuthPresent", {"false"}, mfa));
  EXPECT_TRUE(Holds("Bool", "aws:MultiFactorAuthPresent", {"TRUE"}, mfa));
  EXPECT_FALSE(Holds("Bool", "aws:MultiFactorAuthPresent", {"true"},
                     With({{"aws:MultiFactorAuthPresent", S("yes")}})));
}

TEST(ConditionsTest, E35NotIpAddress) {
  const std::vector<std::string> net = {"203.0.113.0/24"};
  EXPECT_FALSE(
      Holds("NotIpAddress", "aws:SourceIp", net, With({{"aws:SourceIp", S("203.0.113.7")}})));
  EXPECT_TRUE(Holds("NotIpAddress", "aws:SourceIp", net, Context()));
  EXPECT_TRUE(
      Holds("NotIpAddress", "aws:SourceIp", net, With({{"aws:SourceIp", S("198.51.100.1")}})));
}

TEST(ConditionsTest, E36IpForms) {
  EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"203.0.113.7"},
                    With({{"aws:SourceIp", S("203.0.113.7")}})));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"203.0.113.7"},
                     With({{"aws:SourceIp", S("203.0.113.8")}})));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"2001:db8::/32"},
                     With({{"aws:SourceIp", S("203.0.113.7")}})));
  EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"2001:db8::/32"},
                    With({{"aws:SourceIp", S("2001:DB8:0:0::1")}})));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"not-an-ip"},
                     With({{"aws:SourceIp", S("203.0.113.7")}})));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"203.0.113.0/24"},
                     With({{"aws:SourceIp", S("garbage")}})));
}

TEST(ConditionsTest, OracleIpQuirks) {
  Semantics oracle;
  oracle.oracle_ip_quirks = true;
  Context v4 = With({{"aws:SourceIp", S("198.51.100.1")}});
  Context zero = With({{"aws:SourceIp", S("0.0.0.0")}});
  Context v6 = With({{"aws:SourceIp", S("2001:db8::1")}});
  EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"0.0.0.0/0"}, v4));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"0.0.0.0/0"}, v4, oracle));
  EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"0.0.0.0/0"}, zero, oracle));
  EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"2001:DB8::1"}, v6));
  EXPECT_FALSE(Holds("IpAddress", "aws:SourceIp", {"2001:DB8::1"}, v6, oracle));
  EXPECT_TRUE(Holds("IpAddress", "aws:SourceIp", {"2001:db8::1"}, v6, oracle));
  EXPECT_TRUE(Holds("NotIpAddress", "aws:SourceIp", {"198.51.100.1"}, v6));
  EXPECT_FALSE(Holds("NotIpAddress", "aws:SourceIp", {"198.51.100.1"}, v6, oracle));
}

TEST(ConditionsTest, E37DateFormatsAndEpochUnits) {
  Context before = With({{"aws:CurrentTime", S("2029-12-31T23:59:59Z")}});
  Context after = With({{"aws:CurrentTime", S("2030-01-01T00:00:01Z")}});
  for (const char* limit : {"2030-01-01T00:00:00Z", "1893456000"}) {
    EXPECT_TRUE(Holds("DateLessThan", "aws:CurrentTime", {limit}, before)) << limit;
    EXPECT_FALSE(Holds("DateLessThan", "aws:CurrentTime", {limit}, after)) << limit;
  }
  EXPECT_TRUE(Holds("DateEquals", "aws:EpochTime", {"2030-01-01T00:00:00Z"},
                    With({{"aws:EpochTime", S("1893456000")}})));
  // With epoch values read as milliseconds, 1893456000 is January 1970.
  Semantics millis;
  millis.epoch_dates_in_milliseconds = true;
  EXPECT_FALSE(Holds("DateLessThan", "aws:CurrentTime", {"1893456000"}, before, millis));
  EXPECT_TRUE(Holds("DateLessThan", "aws:CurrentTime", {"1893456000000"}, before, millis));
  EXPECT_TRUE(Holds("DateNotEquals", "aws:CurrentTime", {"2030-01-01"}, before));
  EXPECT_FALSE(Holds("DateGreaterThan", "aws:CurrentTime", {"2030"}, before));
  EXPECT_TRUE(Holds("DateGreaterThanEquals", "aws:CurrentTime", {"2030"},
                    With({{"aws:CurrentTime", S("2030-01-01T00:00:00Z")}})));
}

TEST(ConditionsTest, E38NumericComparisonIsNumeric) {
  Context ten = With({{"s3:max-keys", S("10")}});
  EXPECT_TRUE(Holds("NumericEquals", "s3:max-keys", {"10"}, With({{"s3:max-keys", S("10.0")}})));
  EXPECT_FALSE(Holds("NumericLessThan", "s3:max-keys", {"9"}, ten));
  EXPECT_TRUE(Holds("NumericLessThanEquals", "s3:max-keys", {"10"}, ten));
  EXPECT_TRUE(Holds("NumericGreaterThan", "s3:max-keys", {"9"}, ten));
  EXPECT_FALSE(Holds("NumericGreaterThanEquals", "s3:max-keys", {"11"}, ten));
  EXPECT_FALSE(Holds("NumericNotEquals", "s3:max-keys", {"10.00"}, ten));
  // Unparsable values never satisfy the positive comparison.
  EXPECT_FALSE(Holds("NumericEquals", "s3:max-keys", {"ten"}, ten));
  EXPECT_FALSE(Holds("NumericEquals", "s3:max-keys", {"10"}, With({{"s3:max-keys", S("x")}})));
  EXPECT_TRUE(Holds("NumericNotEquals", "s3:max-keys", {"10"}, With({{"s3:max-keys", S("x")}})));
}

TEST(ConditionsTest, E39ArnLikeIsPerFieldStringLikeIsNot) {
  const std::string pattern = "arn:aws:svc:*:111122223333:finance/*";
  Context ctx =
      With({{"aws:SourceArn",
             S("arn:aws:svc:us-east-2:999999999999:store/abc:111122223333:finance/doc.txt")}});
  EXPECT_TRUE(Holds("StringLike", "aws:SourceArn", {pattern}, ctx));
  EXPECT_FALSE(Holds("ArnLike", "aws:SourceArn", {pattern}, ctx));
  EXPECT_TRUE(Holds("ArnNotLike", "aws:SourceArn", {pattern}, ctx));
}

TEST(ConditionsTest, E40ArnEqualsAcceptsWildcards) {
  Context ctx = With({{"aws:SourceArn", S("arn:aws:sns:eu-west-1:111122223333:alerts")}});
  EXPECT_TRUE(Holds("ArnEquals", "aws:SourceArn", {"arn:aws:sns:*:111122223333:*"}, ctx));
  EXPECT_TRUE(Holds("ArnLike", "aws:SourceArn", {"arn:aws:sns:*:111122223333:*"}, ctx));
  EXPECT_FALSE(Holds("ArnNotEquals", "aws:SourceArn", {"arn:aws:sns:*:111122223333:*"}, ctx));
  // Case-sensitive, and a value that is not an ARN never matches.
  EXPECT_FALSE(Holds("ArnEquals", "aws:SourceArn", {"arn:aws:SNS:*:111122223333:*"}, ctx));
  EXPECT_FALSE(Holds("ArnLike", "aws:SourceArn", {"*"}, With({{"aws:SourceArn", S("alerts")}})));
  // A pattern with fewer than six fields matches nothing.
  EXPECT_FALSE(Holds("ArnLike", "aws:SourceArn", {"arn:aws:sns:*"}, ctx));
}

TEST(ConditionsTest, E41PrincipalArnIsTheRoleWithPath) {
  Context ctx = With({{"aws:PrincipalArn", S("arn:aws:iam::111122223333:role/app/agent-runner")}});
  EXPECT_FALSE(Holds("ArnEquals", "aws:PrincipalArn",
                     {"arn:aws:sts::111122223333:assumed-role/agent-runner/run-42"}, ctx));
  EXPECT_FALSE(
      Holds("ArnLike", "aws:PrincipalArn", {"arn:aws:iam::111122223333:role/agent-runner"}, ctx));
  EXPECT_TRUE(Holds("ArnLike", "aws:PrincipalArn", {"arn:aws:iam::111122223333:role/app/*"}, ctx));
}

TEST(ConditionsTest, E42UnresolvedVariableUnderNegatedOperator) {
  Context ctx = With({{"s3:ExistingObjectTag/team", S("blue")}});
  const std::vector<std::string> value = {"${aws:PrincipalTag/team}"};
  EXPECT_TRUE(Holds("StringNotEquals", "s3:ExistingObjectTag/team", value, ctx));
  EXPECT_TRUE(Holds("StringNotLike", "s3:ExistingObjectTag/team", value, ctx));
  EXPECT_FALSE(Holds("StringEquals", "s3:ExistingObjectTag/team", value, ctx));
  Semantics oracle;
  oracle.unresolved_variable_matches_negated_operator = false;
  EXPECT_FALSE(Holds("StringNotEquals", "s3:ExistingObjectTag/team", value, ctx, oracle));
  EXPECT_FALSE(Holds("StringNotLike", "s3:ExistingObjectTag/team", value, ctx, oracle));
  // Resolved, the variable compares as its value.
  ctx.Set("aws:PrincipalTag/team", S("blue"));
  EXPECT_FALSE(Holds("StringNotEquals", "s3:ExistingObjectTag/team", value, ctx));
  EXPECT_TRUE(Holds("StringEquals", "s3:ExistingObjectTag/team", value, ctx));
}

TEST(ConditionsTest, E43EmptyStringPattern) {
  const std::vector<std::string> prefixes = {"", "home/"};
  EXPECT_TRUE(Holds("StringLike", "s3:prefix", prefixes, With({{"s3:prefix", S("")}})));
  EXPECT_FALSE(Holds("StringLike", "s3:prefix", prefixes, With({{"s3:prefix", S("home/x")}})));
  EXPECT_FALSE(Holds("StringLike", "s3:prefix", prefixes, Context()));
}

TEST(ConditionsTest, E44EmptyValueLists) {
  Context present = With({{"k", S("v")}});
  Context tags = With({{"aws:TagKeys", L({"a"})}});
  EXPECT_FALSE(Holds("ForAnyValue:StringEquals", "aws:TagKeys", {}, tags));
  EXPECT_FALSE(Holds("ForAnyValue:StringEquals", "aws:TagKeys", {}, Context()));
  EXPECT_FALSE(Holds("ForAllValues:StringEquals", "aws:TagKeys", {}, tags));
  EXPECT_TRUE(Holds("ForAllValues:StringEquals", "aws:TagKeys", {}, Context()));
  EXPECT_FALSE(Holds("StringEqualsIfExists", "k", {}, present));
  EXPECT_TRUE(Holds("StringEqualsIfExists", "k", {}, Context()));
  EXPECT_FALSE(Holds("StringEquals", "k", {}, present));
  EXPECT_TRUE(Holds("StringNotEquals", "k", {}, present));
}

TEST(ConditionsTest, E16EscapedWildcardAndVariables) {
  EXPECT_TRUE(Holds("StringLike", "s3:prefix", {"tmp${*}"}, With({{"s3:prefix", S("tmp*")}})));
  EXPECT_FALSE(Holds("StringLike", "s3:prefix", {"tmp${*}"}, With({{"s3:prefix", S("tmp-1")}})));
  // A '*' substituted from the context is literal.
  Context ctx = With({{"aws:PrincipalTag/p", S("a*")}, {"s3:prefix", S("abc")}});
  EXPECT_FALSE(Holds("StringLike", "s3:prefix", {"${aws:PrincipalTag/p}"}, ctx));
  ctx.Set("s3:prefix", S("a*"));
  EXPECT_TRUE(Holds("StringLike", "s3:prefix", {"${aws:PrincipalTag/p}"}, ctx));
  // Defaults.
  Context none = With({{"s3:prefix", S("shared/x")}});
  EXPECT_TRUE(Holds("StringLike", "s3:prefix", {"${aws:PrincipalTag/team, 'shared'}/*"}, none));
}

TEST(ConditionsTest, VariablesAreLiteralWhenDisabled) {
  Context ctx = With({{"aws:username", S("alice")}, {"s3:prefix", S("home/alice")}});
  EXPECT_TRUE(Holds("StringEquals", "s3:prefix", {"home/${aws:username}"}, ctx));
  EXPECT_FALSE(Holds("StringEquals", "s3:prefix", {"home/${aws:username}"}, ctx, {},
                     /*variables=*/false));
  ctx.Set("s3:prefix", S("home/${aws:username}"));
  EXPECT_TRUE(Holds("StringEquals", "s3:prefix", {"home/${aws:username}"}, ctx, {},
                    /*variables=*/false));
}

TEST(ConditionsTest, MultivaluedKeyNeverSubstitutes) {
  Context ctx = With({{"aws:TagKeys", L({"a"})}, {"s3:prefix", S("a")}});
  EXPECT_FALSE(Holds("StringEquals", "s3:prefix", {"${aws:TagKeys}"}, ctx));
}

TEST(ConditionsTest, ArnOperatorsWithVariables) {
  Context ctx = With({{"aws:SourceArn", S("arn:aws:sqs:us-east-1:111122223333:queue-alice")},
                      {"aws:username", S("alice")}});
  EXPECT_TRUE(
      Holds("ArnLike", "aws:SourceArn", {"arn:aws:sqs:*:111122223333:queue-${aws:username}"}, ctx));
  Context anonymous = With({{"aws:SourceArn", S("arn:aws:sqs:us-east-1:111122223333:queue-x")}});
  EXPECT_FALSE(Holds("ArnLike", "aws:SourceArn",
                     {"arn:aws:sqs:*:111122223333:queue-${aws:username}"}, anonymous));
  EXPECT_TRUE(Holds("ArnNotLike", "aws:SourceArn",
                    {"arn:aws:sqs:*:111122223333:queue-${aws:username}"}, anonymous));
  Semantics oracle;
  oracle.unresolved_variable_matches_negated_operator = false;
  EXPECT_FALSE(Holds("ArnNotLike", "aws:SourceArn",
                     {"arn:aws:sqs:*:111122223333:queue-${aws:username}"}, anonymous, oracle));
}

TEST(ConditionsTest, BinaryEqualsComparesDecodedBytes) {
  Context ctx = With({{"k", S("QmluYXJ5")}});  // "Binary"
  EXPECT_TRUE(Holds("BinaryEquals", "k", {"QmluYXJ5"}, ctx));
  EXPECT_FALSE(Holds("BinaryEquals", "k", {"QmluYXJ6"}, ctx));
  EXPECT_FALSE(Holds("BinaryEquals", "k", {"not base64!"}, ctx));
}

TEST(ConditionsTest, ExplainNamesClauseAndContextValue) {
  Semantics semantics;
  CompiledCondition condition = CompiledCondition::Compile(
      Clause("StringEquals", "aws:PrincipalTag/team", {"blue"}), true, semantics);
  std::string why;
  EXPECT_FALSE(condition.Evaluate(With({{"aws:PrincipalTag/team", S("red")}}), semantics, &why));
  EXPECT_NE(why.find("StringEquals"), std::string::npos) << why;
  EXPECT_NE(why.find("aws:PrincipalTag/team"), std::string::npos) << why;
  EXPECT_NE(why.find("`red`"), std::string::npos) << why;
  why.clear();
  EXPECT_FALSE(condition.Evaluate(Context(), semantics, &why));
  EXPECT_NE(why.find("absent"), std::string::npos) << why;
}

TEST(ConditionsTest, LayeredContextPrefersItsOwnKeysOverTheFallback) {
  Context shared = With({{"aws:PrincipalTag/team", S("red")}, {"aws:username", S("ann")}});
  Context request = With({{"aws:PrincipalTag/team", S("blue")}, {"s3:prefix", S("logs/")}});
  request.SetFallback(&shared);
  EXPECT_TRUE(Holds("StringEquals", "aws:PrincipalTag/team", {"blue"}, request));  // own wins
  EXPECT_TRUE(Holds("StringEquals", "aws:username", {"ann"}, request));            // fallback
  EXPECT_TRUE(Holds("StringLike", "s3:prefix", {"logs/*"}, request));
  EXPECT_TRUE(Holds("Null", "aws:SourceIp", {"true"}, request));  // in neither: absent
  EXPECT_EQ(request.size(), 2u);                                  // own keys only
  request.SetFallback(nullptr);
  EXPECT_TRUE(Holds("Null", "aws:username", {"true"}, request));
}

TEST(ConditionsTest, CompiledOperandsAreTyped) {
  Semantics semantics;
  CompiledCondition numeric =
      CompiledCondition::Compile(Clause("NumericLessThan", "k", {"10", "x"}), true, semantics);
  ASSERT_EQ(numeric.operands().size(), 2u);
  ASSERT_TRUE(numeric.operands()[0].number.has_value());
  EXPECT_EQ(*numeric.operands()[0].number, 10.0L);
  EXPECT_FALSE(numeric.operands()[1].number.has_value());
  CompiledCondition ip =
      CompiledCondition::Compile(Clause("IpAddress", "k", {"10.0.0.0/8"}), true, semantics);
  ASSERT_TRUE(ip.operands()[0].network.has_value());
  EXPECT_EQ(ip.operands()[0].network->prefix, 8);
  CompiledCondition date = CompiledCondition::Compile(
      Clause("DateEquals", "k", {"1970-01-01T00:00:01Z"}), true, semantics);
  ASSERT_TRUE(date.operands()[0].date.has_value());
  EXPECT_EQ(*date.operands()[0].date, 1000);
  EXPECT_EQ(date.key_lower(), "k");
  CompiledCondition str = CompiledCondition::Compile(
      Clause("StringLike", "AWS:PrincipalTag/X", {"a*", "${aws:username}"}), true, semantics);
  EXPECT_EQ(str.key_lower(), "aws:principaltag/x");
  EXPECT_TRUE(str.operands()[0].context_free);
  EXPECT_FALSE(str.operands()[1].context_free);
}

}  // namespace
}  // namespace xrole::policy
