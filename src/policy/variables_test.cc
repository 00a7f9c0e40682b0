#include "policy/variables.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace xrole::policy {
namespace {

using Kind = Template::Part::Kind;

std::optional<std::string> ExpandText(const Template& t, const Context& context) {
  std::string out;
  if (!t.ExpandToText(context, &out)) return std::nullopt;
  return out;
}

// Expands `policy_text` as a 2012-10-17 pattern and matches `value` against it; nullopt when a
// variable is unresolved.
std::optional<bool> Like(std::string_view policy_text, std::string_view value,
                         const Context& context) {
  Glob glob;
  if (!Template::Parse(policy_text, true).ExpandToGlob(context, &glob)) return std::nullopt;
  return glob.Matches(value);
}

TEST(TemplateTest, PlainTextIsOneTextPart) {
  const Template t = Template::Parse("arn:aws:s3:::bucket/*", true);
  ASSERT_EQ(t.parts().size(), 1u);
  EXPECT_EQ(t.parts()[0].kind, Kind::kText);
  EXPECT_EQ(t.parts()[0].text, "arn:aws:s3:::bucket/*");
  EXPECT_FALSE(t.has_variables());
}

TEST(TemplateTest, SplitsVariablesAndLowerCasesKeys) {
  const Template t = Template::Parse("home/${AWS:UserName}/x-${aws:PrincipalTag/Team}", true);
  ASSERT_EQ(t.parts().size(), 4u);
  EXPECT_EQ(t.parts()[0].kind, Kind::kText);
  EXPECT_EQ(t.parts()[0].text, "home/");
  EXPECT_EQ(t.parts()[1].kind, Kind::kVariable);
  EXPECT_EQ(t.parts()[1].text, "aws:username");
  EXPECT_FALSE(t.parts()[1].default_value.has_value());
  EXPECT_EQ(t.parts()[2].text, "/x-");
  EXPECT_EQ(t.parts()[3].text, "aws:principaltag/team");
  EXPECT_TRUE(t.has_variables());
}

TEST(TemplateTest, DefaultValue) {
  const Template t = Template::Parse("data-${aws:PrincipalTag/team, 'company-wide'}", true);
  ASSERT_EQ(t.parts().size(), 2u);
  EXPECT_EQ(t.parts()[1].kind, Kind::kVariable);
  ASSERT_TRUE(t.parts()[1].default_value.has_value());
  EXPECT_EQ(*t.parts()[1].default_value, "company-wide");
  // The default keeps its case and may be empty.
  const Template e = Template::Parse("${a, ''}", true);
  ASSERT_EQ(e.parts().size(), 1u);
  ASSERT_TRUE(e.parts()[0].default_value.has_value());
  EXPECT_EQ(*e.parts()[0].default_value, "");
}

TEST(TemplateTest, Escapes) {
  const Template t = Template::Parse("a${*}b${?}c${$}", true);
  ASSERT_EQ(t.parts().size(), 6u);
  EXPECT_EQ(t.parts()[1].kind, Kind::kEscape);
  EXPECT_EQ(t.parts()[1].text, "*");
  EXPECT_EQ(t.parts()[3].text, "?");
  EXPECT_EQ(t.parts()[5].text, "$");
  EXPECT_TRUE(t.has_variables());
  EXPECT_EQ(ExpandText(t, Context()), "a*b?c$");
}

TEST(TemplateTest, VariablesDisabledIn2008Grammar) {
  // E14: the whole string is literal text.
  const Template t = Template::Parse("home/${aws:username}/*", false);
  ASSERT_EQ(t.parts().size(), 1u);
  EXPECT_EQ(t.parts()[0].kind, Kind::kText);
  EXPECT_EQ(t.parts()[0].text, "home/${aws:username}/*");
  EXPECT_FALSE(t.has_variables());
  Context c;
  c.Set("aws:username", ContextValue::Scalar("alice"));
  Glob g;
  ASSERT_TRUE(t.ExpandToGlob(c, &g));
  EXPECT_FALSE(g.Matches("home/alice/x"));
  EXPECT_TRUE(g.Matches("home/${aws:username}/x"));
}

TEST(TemplateTest, MalformedReferencesStayLiteral) {
  for (const char* text :
       {"${", "a${b", "${}", "${a b}", "${a, default}", "${a, 'x}", "${a,'x' y}", "${ }"}) {
    const Template t = Template::Parse(text, true);
    for (const auto& part : t.parts()) {
      EXPECT_EQ(part.kind, Kind::kText) << text;
    }
    EXPECT_EQ(ExpandText(t, Context()), text);
  }
  // A malformed reference does not hide a good one after it.
  const Template t = Template::Parse("${${aws:username}}", true);
  Context c;
  c.Set("aws:username", ContextValue::Scalar("bob"));
  EXPECT_EQ(ExpandText(t, c), "${bob}");
}

TEST(TemplateTest, LoneDollarIsText) {
  const Template t = Template::Parse("cost$5 and $ {x}", true);
  ASSERT_EQ(t.parts().size(), 1u);
  EXPECT_EQ(t.parts()[0].text, "cost$5 and $ {x}");
}

TEST(TemplateExpandTest, ResolvesCaseInsensitiveKeys) {
  // E13 for an IAM user; Context stores keys lower-cased.
  Context c;
  c.Set("AWS:UserName", ContextValue::Scalar("alice"));
  EXPECT_EQ(Like("home/${aws:username}/*", "home/alice/x", c), true);
  EXPECT_EQ(Like("home/${AWS:USERNAME}/*", "home/alice/x", c), true);
  EXPECT_EQ(Like("home/${aws:username}/*", "home/bob/x", c), false);
}

TEST(TemplateExpandTest, MissingKeyWithoutDefaultIsUnresolved) {
  // E13 for a role session: aws:username does not exist.
  Context c;
  c.Set("aws:userid", ContextValue::Scalar("AROAEXAMPLE:run-42"));
  EXPECT_EQ(Like("home/${aws:username}/*", "home/agent-runner/x", c), std::nullopt);
  EXPECT_EQ(ExpandText(Template::Parse("${aws:username}", true), c), std::nullopt);
}

TEST(TemplateExpandTest, DefaultUsedOnlyWhenAbsent) {
  // E15
  const std::string pattern = "data-${aws:PrincipalTag/team, 'shared'}/*";
  Context blue;
  blue.Set("aws:PrincipalTag/team", ContextValue::Scalar("blue"));
  EXPECT_EQ(Like(pattern, "data-blue/k", blue), true);
  EXPECT_EQ(Like(pattern, "data-shared/k", blue), false);
  const Context none;
  EXPECT_EQ(Like(pattern, "data-shared/k", none), true);
  EXPECT_EQ(Like(pattern, "data-blue/k", none), false);
}

TEST(TemplateExpandTest, DefaultIsLiteral) {
  const Context none;
  EXPECT_EQ(Like("${k, 'a*'}", "a*", none), true);
  EXPECT_EQ(Like("${k, 'a*'}", "abc", none), false);
}

TEST(TemplateExpandTest, MultivaluedKeyNeverSubstitutes) {
  Context c;
  c.Set("aws:TagKeys", ContextValue::List({"env"}));
  EXPECT_EQ(Like("${aws:TagKeys}", "env", c), std::nullopt);
  // Not even with a default.
  EXPECT_EQ(Like("${aws:TagKeys, 'env'}", "env", c), std::nullopt);
  EXPECT_EQ(ExpandText(Template::Parse("${aws:TagKeys}", true), c), std::nullopt);
}

TEST(TemplateExpandTest, EmptyScalarSubstitutesEmptyText) {
  Context c;
  c.Set("aws:PrincipalTag/team", ContextValue::Scalar(""));
  EXPECT_EQ(Like("t-${aws:PrincipalTag/team, 'x'}", "t-", c), true);
}

TEST(TemplateExpandTest, SubstitutedWildcardsAreLiteral) {
  // 8.3 #12: '*' and '?' from a context value never act as wildcards.
  Context c;
  c.Set("s3:prefix", ContextValue::Scalar("a*"));
  EXPECT_EQ(Like("${s3:prefix}", "a*", c), true);
  EXPECT_EQ(Like("${s3:prefix}", "abc", c), false);
  c.Set("s3:prefix", ContextValue::Scalar("?"));
  EXPECT_EQ(Like("x${s3:prefix}", "x?", c), true);
  EXPECT_EQ(Like("x${s3:prefix}", "xy", c), false);
  // ... while the policy's own wildcards still work around it.
  EXPECT_EQ(Like("*${s3:prefix}*", "ab?cd", c), true);
}

TEST(TemplateExpandTest, EscapedWildcard) {
  // E16: StringLike "tmp${*}" matches only the literal "tmp*".
  const Context none;
  EXPECT_EQ(Like("tmp${*}", "tmp*", none), true);
  EXPECT_EQ(Like("tmp${*}", "tmp-1", none), false);
  EXPECT_EQ(Like("what${?}", "what?", none), true);
  EXPECT_EQ(Like("what${?}", "whatX", none), false);
  EXPECT_EQ(Like("${$}{x}", "${x}", none), true);
}

TEST(TemplateExpandTest, ExpandToTextKeepsWildcardsAsText) {
  Context c;
  c.Set("aws:username", ContextValue::Scalar("bob"));
  EXPECT_EQ(ExpandText(Template::Parse("admin-*-${aws:username}", true), c), "admin-*-bob");
}

TEST(TemplateExpandTest, AppendsToExistingOutput) {
  Context c;
  c.Set("a", ContextValue::Scalar("1"));
  std::string out = "x:";
  ASSERT_TRUE(Template::Parse("${a}", true).ExpandToText(c, &out));
  EXPECT_EQ(out, "x:1");
}

TEST(ValidateVariablesTest, AcceptsWellFormedText) {
  for (const char* text : {"", "plain", "arn:aws:s3:::b/${aws:username}/*", "${*}${?}${$}",
                           "${aws:PrincipalTag/team, 'company-wide'}", "a$b", "$", "${a,'x'}",
                           "${a.b-c_d/e=f+g@h:i}"}) {
    EXPECT_TRUE(ValidateVariables(text).ok()) << text;
  }
}

TEST(ValidateVariablesTest, ReportsMalformedReferences) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"home/${aws:username", "malformed policy variable `${aws:username`: missing closing brace"},
      {"${}", "malformed policy variable `${}`: empty name"},
      {"${ }", "malformed policy variable `${ }`: empty name"},
      {"${aws:user name}", "malformed policy variable `${aws:user name}`: space in name"},
      {"${aws:username }", "malformed policy variable `${aws:username }`: space in name"},
      {"${a, default}",
       "malformed policy variable `${a, default}`: default must be a single-quoted string"},
      {"${a, 'x}", "malformed policy variable `${a, 'x}`: default is missing its closing quote"},
      {"${a, 'x' y}", "malformed policy variable `${a, 'x' y}`: expected `}` after the default"},
      {"${a{b}", "malformed policy variable `${a{b}`: invalid character in name"},
      {"${**}", "malformed policy variable `${**}`: invalid character in name"},
      {"ok ${a} then ${}", "malformed policy variable `${}`: empty name"},
  };
  for (const Case& c : cases) {
    const Status status = ValidateVariables(c.text);
    ASSERT_FALSE(status.ok()) << c.text;
    EXPECT_EQ(status.error().code(), ErrorCode::kMalformedPolicy);
    EXPECT_EQ(status.error().message(), c.message);
  }
}

}  // namespace
}  // namespace xrole::policy
