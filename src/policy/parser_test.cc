#include "policy/parser.h"

#include <gtest/gtest.h>

#include <string>

#include "common/json.h"
#include "policy/document.h"
#include "xrole/policy.h"

namespace xrole::policy {
namespace {

std::shared_ptr<const PolicyDocument> MustParse(std::string_view text,
                                                PolicyKind kind = PolicyKind::kIdentity) {
  auto r = ParseDocumentText(text, kind);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString()) << "\n" << text;
  return r.ok() ? *r : nullptr;
}

Error MustFail(std::string_view text, PolicyKind kind = PolicyKind::kIdentity) {
  auto r = ParseDocumentText(text, kind);
  EXPECT_FALSE(r.ok()) << "accepted: " << text;
  if (r.ok()) return Error(ErrorCode::kInternal, "accepted");
  return r.error();
}

// A statement body (without braces) wrapped into a 2012 identity policy.
std::string Doc(std::string_view statement_body) {
  return R"({"Version":"2012-10-17","Statement":{)" + std::string(statement_body) + "}}";
}

constexpr std::string_view kAllowS3 =
    R"("Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*")";

TEST(ParserTest, MinimalIdentityPolicy) {
  auto doc = MustParse(Doc(kAllowS3));
  ASSERT_NE(doc, nullptr);
  EXPECT_EQ(doc->version, PolicyVersion::k2012);
  EXPECT_TRUE(doc->version_present);
  ASSERT_EQ(doc->statements.size(), 1u);
  const Statement& st = doc->statements[0];
  EXPECT_EQ(st.path, "Statement");
  EXPECT_EQ(st.index, 0);
  EXPECT_EQ(st.effect, Effect::kAllow);
  EXPECT_EQ(st.actions, std::vector<std::string>{"s3:GetObject"});
  EXPECT_FALSE(st.not_action);
  ASSERT_TRUE(st.resources.has_value());
  EXPECT_EQ(*st.resources, std::vector<std::string>{"arn:aws:s3:::b/*"});
  EXPECT_FALSE(st.principal.has_value());
  EXPECT_EQ(st.location.line, 1);
  EXPECT_EQ(st.location.column, 37);
}

TEST(ParserTest, VersionHandling) {
  auto doc = MustParse(R"({"Statement":[{"Effect":"Deny","NotAction":["s3:*"],"Resource":"*"}]})");
  ASSERT_NE(doc, nullptr);
  EXPECT_EQ(doc->version, PolicyVersion::k2008);
  EXPECT_FALSE(doc->version_present);
  EXPECT_EQ(doc->statements[0].path, "Statement[0]");
  EXPECT_TRUE(doc->statements[0].not_action);

  auto old =
      MustParse(R"({"Version":"2008-10-17","Id":"x","Statement":{)" + std::string(kAllowS3) + "}}");
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->version, PolicyVersion::k2008);
  EXPECT_TRUE(old->version_present);
  EXPECT_EQ(old->id, "x");

  Error e = MustFail("{\n  \"Version\": \"2013-10-17\",\n  \"Statement\": {}\n}");
  EXPECT_EQ(e.code(), ErrorCode::kMalformedPolicy);
  EXPECT_EQ(e.path(), "Version");
  EXPECT_EQ(e.location().line, 2);
  EXPECT_EQ(e.location().column, 14);
  EXPECT_EQ(e.message(), "unsupported version `2013-10-17`: expected `2012-10-17` or `2008-10-17`");

  EXPECT_EQ(MustFail(R"({"Version":20121017,"Statement":{}})").path(), "Version");
}

TEST(ParserTest, TopLevelElements) {
  Error e = MustFail(R"({"Version":"2012-10-17","statement":{}})");
  EXPECT_EQ(e.path(), "statement");
  EXPECT_NE(e.message().find("unknown policy element `statement`"), std::string::npos);
  EXPECT_NE(e.message().find("case-sensitive"), std::string::npos);
  EXPECT_EQ(e.location().column, 25);

  EXPECT_EQ(MustFail(R"({"Version":"2012-10-17"})").message(), "missing `Statement`");
  EXPECT_EQ(MustFail(R"({"Version":"2012-10-17","Statement":[]})").path(), "Statement");
  EXPECT_EQ(MustFail(R"({"Version":"2012-10-17","Statement":"x"})").path(), "Statement");
  EXPECT_EQ(MustFail(R"({"Statement":["afd"]})").path(), "Statement[0]");
  EXPECT_EQ(MustFail(R"({"Id":["a"],"Statement":{}})").path(), "Id");
  EXPECT_EQ(MustFail(R"(["not an object"])").code(), ErrorCode::kMalformedPolicy);
  EXPECT_EQ(MustFail(R"({"Statement":{}, "Extra":1})").path(), "Extra");
}

TEST(ParserTest, JsonErrorsAreMalformedPolicyWithLocation) {
  Error e = MustFail("{\"Version\":\"2012-10-17\",\n\"Version\":\"2012-10-17\"}");
  EXPECT_EQ(e.code(), ErrorCode::kMalformedPolicy);
  EXPECT_EQ(e.location().line, 2);
  Error syntax = MustFail("This is not a json document");
  EXPECT_EQ(syntax.code(), ErrorCode::kMalformedPolicy);
  EXPECT_TRUE(syntax.location().known());
}

TEST(ParserTest, EffectIsCaseSensitiveWithExactLocation) {
  const std::string text =
      "{\"Version\": \"2012-10-17\", \"Statement\": [\n"
      "  {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"},\n"
      "  {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"},\n"
      "  {\"Effect\": \"allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}\n"
      "]}";
  Error e = MustFail(text);
  EXPECT_EQ(e.path(), "Statement[2].Effect");
  EXPECT_EQ(e.location().line, 4);
  EXPECT_EQ(e.location().column, 14);
  EXPECT_EQ(e.message(), "unknown effect `allow`: expected `Allow` or `Deny`");
  EXPECT_EQ(e.ToString(),
            "line 4, column 14: Statement[2].Effect: unknown effect `allow`: expected `Allow` or "
            "`Deny`");

  EXPECT_EQ(MustFail(Doc(R"("Action":"s3:*","Resource":"*")")).message(), "missing `Effect`");
  EXPECT_EQ(MustFail(Doc(R"("Effect":true,"Action":"s3:*","Resource":"*")")).path(),
            "Statement.Effect");
}

TEST(ParserTest, StatementElements) {
  Error unknown = MustFail(Doc(R"("Effect":"Allow","action":"s3:*","Resource":"*")"));
  EXPECT_EQ(unknown.path(), "Statement.action");
  EXPECT_NE(unknown.message().find("`Action`"), std::string::npos);

  Error both =
      MustFail(Doc(R"("Effect":"Allow","Action":"s3:*","NotAction":"s3:x","Resource":"*")"));
  EXPECT_EQ(both.path(), "Statement.NotAction");
  EXPECT_EQ(both.message(), "`Action` and `NotAction` are mutually exclusive in a statement");

  EXPECT_EQ(MustFail(Doc(R"("Effect":"Allow","Resource":"*")")).message(),
            "missing `Action` or `NotAction`");
  EXPECT_EQ(
      MustFail(Doc(R"("Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*")")).path(),
      "Statement.NotResource");
  EXPECT_EQ(MustFail(Doc(R"("Effect":"Allow","Action":"s3:*")")).path(), "Statement");

  Error typed = MustFail(Doc(R"("Effect":"Allow","Action":["s3:a",7],"Resource":"*")"));
  EXPECT_EQ(typed.path(), "Statement.Action[1]");
  EXPECT_EQ(MustFail(Doc(R"("Effect":"Allow","Action":{},"Resource":"*")")).path(),
            "Statement.Action");
  EXPECT_EQ(MustFail(Doc(R"("Effect":"Allow","Action":[[]],"Resource":"*")")).path(),
            "Statement.Action[0]");
  EXPECT_EQ(MustFail(Doc(R"("Sid":{},"Effect":"Allow","Action":"s3:*","Resource":"*")")).path(),
            "Statement.Sid");

  auto doc = MustParse(
      Doc(R"("Sid":"A1","Effect":"Deny","NotAction":[],"NotResource":["arn:aws:s3:::x",null])"));
  ASSERT_NE(doc, nullptr);
  const Statement& st = doc->statements[0];
  EXPECT_EQ(st.sid, "A1");
  EXPECT_TRUE(st.not_action);
  EXPECT_TRUE(st.actions.empty());
  EXPECT_TRUE(st.not_resource);
  EXPECT_EQ(*st.resources, std::vector<std::string>{"arn:aws:s3:::x"});
}

TEST(ParserTest, PrincipalShapes) {
  auto p = [](std::string_view principal) {
    return R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":)" +
           std::string(principal) + R"(,"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}})";
  };
  auto star = MustParse(p(R"("*")"), PolicyKind::kResource);
  ASSERT_NE(star, nullptr);
  EXPECT_TRUE(star->statements[0].principal->wildcard);
  auto aws_star = MustParse(p(R"({"AWS":"*"})"), PolicyKind::kResource);
  ASSERT_NE(aws_star, nullptr);
  EXPECT_TRUE(aws_star->statements[0].principal->wildcard);
  EXPECT_TRUE(aws_star->statements[0].principal->aws.empty());

  auto all = MustParse(
      p(R"({"AWS":["111122223333","arn:aws:iam::111122223333:role/r"],"Service":"lambda.amazonaws.com","Federated":"cognito-identity.amazonaws.com","CanonicalUser":"abc"})"),
      PolicyKind::kResource);
  ASSERT_NE(all, nullptr);
  const PrincipalBlock& block = *all->statements[0].principal;
  EXPECT_FALSE(block.wildcard);
  EXPECT_EQ(block.aws.size(), 2u);
  EXPECT_EQ(block.service, std::vector<std::string>{"lambda.amazonaws.com"});
  EXPECT_EQ(block.federated, std::vector<std::string>{"cognito-identity.amazonaws.com"});
  EXPECT_EQ(block.canonical_user, std::vector<std::string>{"abc"});

  EXPECT_EQ(MustFail(p(R"({"Aws":"*"})"), PolicyKind::kResource).path(), "Statement.Principal.Aws");
  EXPECT_EQ(MustFail(p(R"("arn:aws:iam::1:root")"), PolicyKind::kResource).path(),
            "Statement.Principal");
  EXPECT_EQ(MustFail(p(R"({})"), PolicyKind::kResource).path(), "Statement.Principal");
  Error partial =
      MustFail(p(R"({"AWS":["111122223333","arn:aws:iam::*:role/x"]})"), PolicyKind::kResource);
  EXPECT_EQ(partial.path(), "Statement.Principal.AWS[1]");
  EXPECT_NE(partial.message().find("`arn:aws:iam::*:role/x`"), std::string::npos);
}

TEST(ParserTest, PerKindRules) {
  const std::string with_principal =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}})";
  for (PolicyKind k :
       {PolicyKind::kIdentity, PolicyKind::kBoundary, PolicyKind::kSession, PolicyKind::kScp}) {
    Error e = MustFail(with_principal, k);
    EXPECT_EQ(e.path(), "Statement.Principal") << PolicyKindName(k);
    EXPECT_NE(e.message().find("is not allowed in"), std::string::npos);
  }
  const std::string no_resource =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}})";
  for (PolicyKind k :
       {PolicyKind::kIdentity, PolicyKind::kBoundary, PolicyKind::kSession, PolicyKind::kScp}) {
    EXPECT_NE(MustFail(no_resource, k).message().find("missing `Resource`"), std::string::npos);
  }

  // Resource policies: a principal element is required; NotPrincipal only with Deny.
  EXPECT_NE(MustFail(Doc(kAllowS3), PolicyKind::kResource).message().find("missing `Principal`"),
            std::string::npos);
  const std::string not_principal_allow =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}})";
  EXPECT_EQ(MustFail(not_principal_allow, PolicyKind::kResource).path(), "Statement.NotPrincipal");
  const std::string not_principal_deny =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}})";
  auto npd = MustParse(not_principal_deny, PolicyKind::kResource);
  ASSERT_NE(npd, nullptr);
  EXPECT_TRUE(npd->statements[0].not_principal);

  // Trust policies.
  const std::string trust =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}})";
  auto t = MustParse(trust, PolicyKind::kTrust);
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->statements[0].resources.has_value());
  EXPECT_EQ(MustFail(with_principal, PolicyKind::kTrust).path(), "Statement.Resource");
  EXPECT_EQ(MustFail(not_principal_deny, PolicyKind::kTrust).path(), "Statement.NotPrincipal");
  EXPECT_NE(
      MustFail(R"({"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}})", PolicyKind::kTrust)
          .message()
          .find("missing `Principal`"),
      std::string::npos);

  // SCPs accept the full language (historical restrictions are lint findings).
  EXPECT_NE(
      MustParse(
          R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:iam::*:role/x","Condition":{"Bool":{"aws:SecureTransport":false}}}})",
          PolicyKind::kScp),
      nullptr);

  // RCPs.
  const std::string rcp =
      R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}})";
  EXPECT_NE(MustParse(rcp, PolicyKind::kRcp), nullptr);
  EXPECT_EQ(
      MustFail(R"({"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}})",
               PolicyKind::kRcp)
          .message(),
      "a resource control policy must declare `Version` `2012-10-17`");
  EXPECT_EQ(
      MustFail(
          R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}})",
          PolicyKind::kRcp)
          .path(),
      "Statement.Principal");
  EXPECT_EQ(
      MustFail(
          R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","NotAction":"s3:*","Resource":"*"}})",
          PolicyKind::kRcp)
          .path(),
      "Statement.NotAction");
  EXPECT_NE(
      MustFail(
          R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*"}})",
          PolicyKind::kRcp)
          .message()
          .find("missing `Resource`"),
      std::string::npos);
  EXPECT_NE(
      MustFail(
          R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}})",
          PolicyKind::kRcp)
          .message()
          .find("missing `Principal`"),
      std::string::npos);
}

std::string WithCondition(std::string_view condition) {
  return R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":)" +
         std::string(condition) + "}}";
}

TEST(ParserTest, ConditionOperators) {
  auto doc = MustParse(WithCondition(
      R"({"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*","b"]},"NumericLessThan":{"s3:max-keys":10.50},"Bool":{"aws:SecureTransport":true},"ForAllValues:StringEquals":{"aws:TagKeys":[]},"Null":{"aws:TokenIssueTime":"true"}})"));
  ASSERT_NE(doc, nullptr);
  const auto& c = doc->statements[0].conditions;
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c[0].operator_name, "ForAnyValue:StringLikeIfExists");
  EXPECT_EQ(c[0].op, BaseOperator::kStringLike);
  EXPECT_EQ(c[0].set, SetQualifier::kForAnyValue);
  EXPECT_TRUE(c[0].if_exists);
  EXPECT_EQ(c[0].key, "aws:TagKeys");
  EXPECT_EQ(c[0].key_lower, "aws:tagkeys");
  EXPECT_EQ(c[0].values, (std::vector<std::string>{"a*", "b"}));
  EXPECT_EQ(c[0].path, "Statement.Condition.ForAnyValue:StringLikeIfExists.aws:TagKeys");
  EXPECT_EQ(c[1].op, BaseOperator::kNumericLessThan);
  EXPECT_EQ(c[1].values, std::vector<std::string>{"10.50"});
  EXPECT_EQ(c[2].op, BaseOperator::kBool);
  EXPECT_EQ(c[2].values, std::vector<std::string>{"true"});
  EXPECT_EQ(c[3].set, SetQualifier::kForAllValues);
  EXPECT_TRUE(c[3].values.empty());
  EXPECT_EQ(c[4].op, BaseOperator::kNull);
  EXPECT_FALSE(c[4].if_exists);

  Error unknown = MustFail(WithCondition(R"({"StringEqualz":{"a":"b"}})"));
  EXPECT_EQ(unknown.message(), "unknown condition operator `StringEqualz`");
  EXPECT_EQ(unknown.path(), "Statement.Condition.StringEqualz");
  EXPECT_EQ(unknown.location().column, 99);
  EXPECT_NE(MustFail(WithCondition(R"({"ForAnyValue::StringEquals":{"a":"b"}})"))
                .message()
                .find("unknown condition operator"),
            std::string::npos);
  // IAM accepts an unknown operator whose block is empty; nothing is stored for it.
  auto empty_unknown = MustParse(WithCondition(R"({"x":{},"DateGreaterThan":{}})"));
  ASSERT_NE(empty_unknown, nullptr);
  EXPECT_TRUE(empty_unknown->statements[0].conditions.empty());

  Error wrong_case = MustFail(WithCondition(R"({"stringequals":{"a":"b"}})"));
  EXPECT_EQ(wrong_case.message(),
            "condition operator `stringequals` must be written `StringEquals` (operator names "
            "are case-sensitive)");
  EXPECT_NE(MustFail(WithCondition(R"({"forallvalues:StringEquals":{"a":"b"}})"))
                .message()
                .find("`ForAllValues:StringEquals`"),
            std::string::npos);
  EXPECT_NE(MustFail(WithCondition(R"({"NullIfExists":{"a":"true"}})")).message().find("IfExists"),
            std::string::npos);
  Error multi_bool =
      MustFail(WithCondition(R"({"Bool":{"aws:SecureTransport":["true","false"]}})"));
  EXPECT_EQ(multi_bool.path(), "Statement.Condition.Bool.aws:SecureTransport");
  Error dup =
      MustFail(WithCondition(R"({"StringEquals":{"aws:SourceVpc":"a","aws:sourcevpc":"b"}})"));
  EXPECT_NE(dup.message().find("duplicate keys with different case"), std::string::npos);
  EXPECT_EQ(dup.path(), "Statement.Condition.StringEquals.aws:sourcevpc");

  EXPECT_EQ(MustFail(WithCondition("[]")).path(), "Statement.Condition");
  EXPECT_EQ(MustFail(WithCondition(R"({"DateGreaterThan":"b"})")).path(),
            "Statement.Condition.DateGreaterThan");
  EXPECT_EQ(MustFail(WithCondition(R"({"DateGreaterThan":{"a":{}}})")).path(),
            "Statement.Condition.DateGreaterThan.a");
  EXPECT_EQ(MustFail(WithCondition(R"({"StringEquals":{"a":["x",null]}})")).path(),
            "Statement.Condition.StringEquals.a[1]");
}

TEST(ParserTest, AllowedCharacters) {
  // U+00E9 is inside U+0020..U+00FF; U+0100 and U+1F600 are not.
  EXPECT_NE(MustParse(Doc(R"("Sid":"caf\u00e9","Effect":"Allow","Action":"s3:*","Resource":"*")")),
            nullptr);
  Error e = MustFail(
      "{\"Statement\":{\"Effect\":\"Allow\",\n\"Action\":\"s3:\\u0100\",\"Resource\":\"*\"}}");
  EXPECT_EQ(e.path(), "Statement.Action");
  EXPECT_EQ(e.location().line, 2);
  EXPECT_EQ(e.location().column, 10);
  EXPECT_NE(e.message().find("U+0100"), std::string::npos);
  EXPECT_NE(
      MustFail(
          Doc(R"("Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"k😀":"v"}})"))
          .message()
          .find("U+1F600"),
      std::string::npos);
  EXPECT_NE(MustFail(Doc(R"("Effect":"Allow","Action":"s3:\u0001","Resource":"*")"))
                .message()
                .find("U+0001"),
            std::string::npos);
}

std::string PolicyWithActions(int count) {
  std::string actions;
  for (int i = 0; i < count; ++i) {
    if (i > 0) actions += ",";
    actions += "\"s3:GetObjectVersionAttributes" + std::to_string(i) + "\"";
  }
  return R"({"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":[)" +
         actions + R"(],"Resource":"*"}})";
}

TEST(ParserTest, SizeLimits) {
  auto small = MustParse(Doc(kAllowS3));
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->size_without_whitespace, Doc(kAllowS3).size());
  auto spaced = MustParse(
      "{ \"Statement\" : { \"Effect\" : \"Allow\" , \"Action\" : \"a b:c\" , "
      "\"Resource\" : \"*\" } }");
  ASSERT_NE(spaced, nullptr);
  EXPECT_EQ(
      spaced->size_without_whitespace,
      std::string(R"({"Statement":{"Effect":"Allow","Action":"a b:c","Resource":"*"}})").size());

  // ~7,000 characters: fine for an identity policy (its quota is a lint warning), an error for
  // an SCP or RCP (5,120, all characters count).
  const std::string big = PolicyWithActions(200);
  ASSERT_GT(big.size(), 6144u);
  std::string big_identity = big;
  big_identity.replace(big_identity.find(R"("Principal":"*",)"), 16, "");
  EXPECT_NE(MustParse(big_identity, PolicyKind::kIdentity), nullptr);
  EXPECT_NE(MustParse(big, PolicyKind::kResource), nullptr);
  Error rcp = MustFail(big, PolicyKind::kRcp);
  EXPECT_EQ(rcp.code(), ErrorCode::kMalformedPolicy);
  EXPECT_NE(rcp.message().find("over the limit of 5120"), std::string::npos);
  EXPECT_NE(MustFail(big_identity, PolicyKind::kScp).message().find("5120"), std::string::npos);
  ParseOptions lax;
  lax.enforce_size_limits = false;
  EXPECT_TRUE(ParseDocumentText(big_identity, PolicyKind::kScp, lax).ok());
  // SCPs count whitespace too: a small SCP padded with spaces goes over.
  std::string padded = R"({"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"})" +
                       std::string(5200, ' ') + "}";
  EXPECT_FALSE(ParseDocumentText(padded, PolicyKind::kScp).ok());
  EXPECT_TRUE(ParseDocumentText(padded, PolicyKind::kIdentity).ok());

  // Hard limits for every kind.
  std::string many_values = R"({"Statement":{"Effect":"Deny","Action":[)";
  for (int i = 0; i < 10001; ++i) many_values += i == 0 ? "\"a:b\"" : ",\"a:b\"";
  many_values += R"(],"Resource":"*"}})";
  Error values = MustFail(many_values);
  EXPECT_EQ(values.code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(values.path(), "Statement.Action");
  Error huge = MustFail(R"({"Statement":{"Sid":")" + std::string(600 * 1024, 'a') +
                        R"(","Effect":"Deny","Action":"a:b","Resource":"*"}})");
  EXPECT_EQ(huge.code(), ErrorCode::kLimitExceeded);
  std::string many = R"({"Statement":[)";
  for (int i = 0; i < 1001; ++i) {
    if (i > 0) many += ",";
    many += R"({"Effect":"Deny","Action":"a:b","Resource":"*"})";
  }
  many += "]}";
  Error statements = MustFail(many);
  EXPECT_EQ(statements.code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(statements.path(), "Statement");
}

TEST(ParserTest, PathPrefixAndParsePolicy) {
  auto root = json::Parse(
      R"({"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bogus":{"a":"b"}}}})");
  ASSERT_TRUE(root.ok());
  auto r = ParseDocument(**root, PolicyKind::kIdentity, "identityPolicies[0]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().path(), "identityPolicies[0].Statement.Condition.Bogus");

  auto policy = ParsePolicy(Doc(kAllowS3), PolicyKind::kIdentity, "reader");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->name(), "reader");
  EXPECT_EQ(policy->document().statements.size(), 1u);
  EXPECT_FALSE(ParsePolicy("{}", PolicyKind::kIdentity).ok());
}

}  // namespace
}  // namespace xrole::policy
