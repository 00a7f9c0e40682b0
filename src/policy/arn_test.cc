#include "policy/arn.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

// Counts heap allocations so a test can check that matching a variable-free pattern does not
// allocate.
namespace {
std::size_t g_allocations = 0;
}  // namespace

// NOTE(prim): GCC flags free() in a replaced operator delete as a mismatch with the malloc()
// in the replaced operator new it pairs with; the pair is consistent.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  std::abort();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace xrole::policy {
namespace {

using Outcome = ResourcePattern::Outcome;

Semantics Documented() { return Semantics::Documented(); }
Semantics Oracle() { return Semantics::OracleCompatible(); }

Outcome Match(std::string_view pattern, std::string_view resource,
              const Semantics& semantics = Documented(), const Context& context = Context(),
              bool variables = true) {
  return ResourcePattern::Compile(pattern, variables).Match(resource, context, semantics);
}

Outcome Resourceless(std::string_view pattern, std::string_view service,
                     const Semantics& semantics = Documented(),
                     const Context& context = Context()) {
  return ResourcePattern::Compile(pattern, true).MatchResourceless(service, context, semantics);
}

TEST(SplitArnTest, SixFieldsResourceKeepsColonsAndSlashes) {
  const ArnFields f = SplitArn("arn:aws:logs:us-east-1:111122223333:log-group:app:log-stream:s1/x");
  ASSERT_EQ(f.count, 6);
  EXPECT_EQ(f.field[0], "arn");
  EXPECT_EQ(f.field[1], "aws");
  EXPECT_EQ(f.field[2], "logs");
  EXPECT_EQ(f.field[3], "us-east-1");
  EXPECT_EQ(f.field[4], "111122223333");
  EXPECT_EQ(f.field[5], "log-group:app:log-stream:s1/x");
}

TEST(SplitArnTest, EmptyFieldsAndShortArns) {
  const ArnFields s3 = SplitArn("arn:aws:s3:::bucket");
  ASSERT_EQ(s3.count, 6);
  EXPECT_EQ(s3.field[3], "");
  EXPECT_EQ(s3.field[4], "");
  EXPECT_EQ(s3.field[5], "bucket");
  EXPECT_EQ(SplitArn("arn:aws:ec2:*").count, 4);
  EXPECT_EQ(SplitArn("arn:aws:ec2:*").field[3], "*");
  EXPECT_EQ(SplitArn("").count, 1);
  EXPECT_EQ(SplitArn("*").count, 1);
  EXPECT_EQ(SplitArn("a:").count, 2);
  EXPECT_EQ(SplitArn("a:").field[1], "");
}

TEST(SplitArnTest, BraceAwareKeepsVariablesWhole) {
  const std::string arn = "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}";
  const ArnFields plain = SplitArn(arn);
  ASSERT_EQ(plain.count, 6);
  EXPECT_EQ(plain.field[4], "${aws");  // split inside the variable
  const ArnFields aware = SplitArn(arn, true);
  ASSERT_EQ(aware.count, 6);
  EXPECT_EQ(aware.field[4], "${aws:PrincipalAccount}");
  EXPECT_EQ(aware.field[5], "user/${aws:username}");
  // An unterminated reference swallows the rest.
  EXPECT_EQ(SplitArn("arn:aws:${x:y:z", true).count, 3);
}

TEST(ArnTest, IsWellFormedArn) {
  EXPECT_TRUE(IsWellFormedArn("arn:aws:s3:::bucket"));
  EXPECT_TRUE(IsWellFormedArn("arn:aws:iam::111122223333:role/app/agent-runner"));
  EXPECT_TRUE(IsWellFormedArn("arn:aws:logs:us-east-1:111122223333:log-group:a:log-stream:b"));
  EXPECT_FALSE(IsWellFormedArn("arn:aws:s3:::"));      // empty resource
  EXPECT_FALSE(IsWellFormedArn("arn::s3:::bucket"));   // empty partition
  EXPECT_FALSE(IsWellFormedArn("arn:aws::::bucket"));  // empty service
  EXPECT_FALSE(IsWellFormedArn("arn:aws:s3:bucket"));  // five fields
  EXPECT_FALSE(IsWellFormedArn("urn:aws:s3:::bucket"));
  EXPECT_FALSE(IsWellFormedArn("*"));
  EXPECT_FALSE(IsWellFormedArn(""));
}

TEST(ArnTest, ArnAccount) {
  EXPECT_EQ(ArnAccount("arn:aws:iam::111122223333:role/x"), "111122223333");
  EXPECT_EQ(ArnAccount("arn:aws:s3:::bucket/key"), "");
  EXPECT_EQ(ArnAccount("arn:aws:sts::444455556666:assumed-role/r/s"), "444455556666");
  EXPECT_EQ(ArnAccount("111122223333"), "");
  EXPECT_EQ(ArnAccount("arn:aws:iam::111122223333"), "");
}

TEST(ResourcePatternTest, StarMatchesEverythingIncludingNonArns) {
  const ResourcePattern p = ResourcePattern::Compile("*", true);
  EXPECT_TRUE(p.is_match_all());
  EXPECT_EQ(p.text(), "*");
  for (const char* r : {"arn:aws:s3:::b/k", "", "*", "not-an-arn"}) {
    EXPECT_EQ(p.Match(r, Context(), Documented()), Outcome::kMatch) << r;
  }
  EXPECT_FALSE(ResourcePattern::Compile("${*}", true).is_match_all());
  EXPECT_EQ(Match("${*}", "arn:aws:s3:::b"), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, NonArnResourcesOnlyMatchStar) {
  EXPECT_EQ(Match("arn:aws:s3:::*", ""), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:s3:::*", "*"), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:*", "arn:aws:s3"), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:*", "arn:aws:s3:::b"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3:::*", "arn:aws:s3:::b", Oracle()), Outcome::kMatch);
  EXPECT_EQ(Match("*:*", "bucket"), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, WildcardInResourceFieldCrossesSlashes) {
  // iam-semantics.md 2.3
  const std::string p = "arn:aws:s3:::bucket/*/test/*";
  EXPECT_EQ(Match(p, "arn:aws:s3:::bucket/1/2/test/x.jpg"), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::bucket//test/object.jpg"), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::bucket/1/test/"), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::bucket/test/object.jpg"), Outcome::kNoMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::other/1/test/x"), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, WildcardInResourceFieldCrossesColons) {
  // E6
  const std::string p = "arn:aws:logs:us-east-1:111122223333:log-group:app*";
  EXPECT_EQ(Match(p, "arn:aws:logs:us-east-1:111122223333:log-group:app-prod:log-stream:s1"),
            Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:logs:us-east-1:111122223333:log-group:web:log-stream:s1"),
            Outcome::kNoMatch);
  EXPECT_EQ(Match(p, "arn:aws:logs:us-east-1:444455556666:log-group:app-prod"), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, BucketWildcardCoversObjects) {
  // E7
  EXPECT_EQ(Match("arn:aws:s3:::*", "arn:aws:s3:::payroll/2024/q1.csv"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3:::*", "arn:aws:s3:::payroll"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3:::*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kNoMatch);  // E5: EC2 ARNs never match an S3 pattern
}

TEST(ResourcePatternTest, ResourceFieldIsCaseSensitive) {
  // E8
  EXPECT_EQ(Match("arn:aws:s3:::reports/Q1/*", "arn:aws:s3:::reports/q1/x.csv"), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:s3:::reports/Q1/*", "arn:aws:s3:::reports/Q1/x.csv"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:role/admin"),
            Outcome::kNoMatch);
}

TEST(ResourcePatternTest, FirstFiveFieldsAreCaseInsensitive) {
  // 8.3 #6
  EXPECT_EQ(Match("ARN:AWS:S3:::bucket", "arn:aws:s3:::bucket"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:EC2:US-EAST-1:111122223333:instance/i-1",
                  "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:ec2:US-*:111122223333:instance/*",
                  "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kMatch);
}

TEST(ResourcePatternTest, WildcardsStayInsideTheirField) {
  EXPECT_EQ(Match("arn:aws:ec2:us-?ast-1:*:instance/*",
                  "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kMatch);
  // '?' in the region field cannot eat the colon before the account.
  EXPECT_EQ(Match("arn:aws:ec2:us-east-?111122223333:x:instance/*",
                  "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kNoMatch);
  // A '*' that is not the field's last character does not cross colons.
  EXPECT_EQ(
      Match("arn:aws:ec2:us-*1:instance/*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
      Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:ec2:*:111122223333:instance/i-1",
                  "arn:aws:ec2:us-east-1:444455556666:instance/i-1"),
            Outcome::kNoMatch);
}

TEST(ResourcePatternTest, OnlyTheLastFieldSpansColons) {
  // The resource field spans colons; a trailing '*' there covers every log stream.
  EXPECT_EQ(Match("arn:aws:logs:us-east-1:111122223333:*",
                  "arn:aws:logs:us-east-1:111122223333:log-group:a:log-stream:b"),
            Outcome::kMatch);
  // A region '*' never swallows the account field: the pattern is scoped to one account.
  EXPECT_EQ(Match("arn:aws:svc:*:111122223333:finance/*",
                  "arn:aws:svc:us-east-2:999999999999:store/abc:111122223333:finance/doc.txt"),
            Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:us-east-1:111122223333:volume/v-1"),
            Outcome::kNoMatch);
}

TEST(ResourcePatternTest, ShortPatternsDocumented) {
  // 2.3: a short pattern matches only when its last field ends in '*'.
  EXPECT_EQ(Match("arn:aws:ec2:*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:ec2:*", "arn:aws:s3:::bucket"), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:s3*", "arn:aws:s3:::bucket/key"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3", "arn:aws:s3:::bucket"), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:ec2:us-east-1", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:ec2:us-east-1:*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:ec2:us-east-1:*", "arn:aws:ec2:eu-west-1:111122223333:instance/i-1"),
            Outcome::kNoMatch);
  // Only the last field spans the rest: here it must cover "111122223333:instance/i-1".
  EXPECT_EQ(Match("arn:aws:ec2:*:instance/*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:ec2:*:*instance/*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
            Outcome::kMatch);
}

TEST(ResourcePatternTest, ShortPatternsOraclePadding) {
  // 8.3 #9: padded with "*" fields to six.
  EXPECT_EQ(Match("arn:aws:s3", "arn:aws:s3:::bucket", Oracle()), Outcome::kMatch);
  EXPECT_EQ(
      Match("arn:aws:ec2:us-east-1", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", Oracle()),
      Outcome::kMatch);
  EXPECT_EQ(
      Match("arn:aws:ec2:us-east-1", "arn:aws:ec2:eu-west-1:111122223333:instance/i-1", Oracle()),
      Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:ec2:*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", Oracle()),
            Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", Oracle()),
            Outcome::kNoMatch);
  Semantics padding_only = Documented();
  padding_only.oracle_short_arn_padding = true;
  EXPECT_EQ(Match("arn:aws:s3", "arn:aws:s3:::bucket", padding_only), Outcome::kMatch);
}

TEST(ResourcePatternTest, VariablesResolveInResourceField) {
  // E13
  const std::string p = "arn:aws:s3:::home/${aws:username}/*";
  Context alice;
  alice.Set("aws:username", ContextValue::Scalar("alice"));
  EXPECT_EQ(Match(p, "arn:aws:s3:::home/alice/x", Documented(), alice), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::home/bob/x", Documented(), alice), Outcome::kNoMatch);
  Context session;
  session.Set("aws:userid", ContextValue::Scalar("AROAEXAMPLE:run-42"));
  EXPECT_EQ(Match(p, "arn:aws:s3:::home/agent-runner/x", Documented(), session),
            Outcome::kUnresolved);
  // Unresolved is reported even when the request is not an ARN.
  EXPECT_EQ(Match(p, "*", Documented(), session), Outcome::kUnresolved);
}

TEST(ResourcePatternTest, VariablesAreLiteralIn2008Documents) {
  // E14
  const std::string p = "arn:aws:s3:::home/${aws:username}/*";
  Context alice;
  alice.Set("aws:username", ContextValue::Scalar("alice"));
  EXPECT_EQ(Match(p, "arn:aws:s3:::home/alice/x", Documented(), alice, false), Outcome::kNoMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::home/${aws:username}/x", Documented(), alice, false),
            Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::home/${aws:username}/x", Documented(), Context(), false),
            Outcome::kMatch);
}

TEST(ResourcePatternTest, VariableDefaults) {
  // E15
  const std::string p = "arn:aws:s3:::data-${aws:PrincipalTag/team, 'shared'}/*";
  Context blue;
  blue.Set("aws:PrincipalTag/team", ContextValue::Scalar("blue"));
  EXPECT_EQ(Match(p, "arn:aws:s3:::data-blue/k", Documented(), blue), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::data-shared/k", Documented()), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::data-blue/k", Documented()), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, SubstitutedValuesAreLiteral) {
  Context c;
  c.Set("s3:prefix", ContextValue::Scalar("a*"));
  const std::string p = "arn:aws:s3:::b/${s3:prefix}";
  EXPECT_EQ(Match(p, "arn:aws:s3:::b/a*", Documented(), c), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:s3:::b/abc", Documented(), c), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:s3:::b/x${*}", "arn:aws:s3:::b/x*"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3:::b/x${*}", "arn:aws:s3:::b/xyz"), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, VariablesInFirstFiveFieldsExpand) {
  const std::string p = "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}";
  Context c;
  c.Set("aws:PrincipalAccount", ContextValue::Scalar("111122223333"));
  c.Set("aws:username", ContextValue::Scalar("alice"));
  EXPECT_EQ(Match(p, "arn:aws:iam::111122223333:user/alice", Documented(), c), Outcome::kMatch);
  EXPECT_EQ(Match(p, "arn:aws:iam::444455556666:user/alice", Documented(), c), Outcome::kNoMatch);
  // A value with a colon stays inside its field.
  Context odd;
  odd.Set("aws:PrincipalAccount", ContextValue::Scalar("1:2"));
  odd.Set("aws:username", ContextValue::Scalar("alice"));
  EXPECT_EQ(Match(p, "arn:aws:iam::1:2:user/alice", Documented(), odd), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, MultivaluedVariableIsUnresolved) {
  Context c;
  c.Set("aws:TagKeys", ContextValue::List({"a"}));
  EXPECT_EQ(Match("arn:aws:s3:::b/${aws:TagKeys}", "arn:aws:s3:::b/a", Documented(), c),
            Outcome::kUnresolved);
}

TEST(ResourcePatternTest, NotResourceListExcludesOnlyItsOwnResources) {
  // E11: NotResource [hr, hr/*] leaves every other resource, IAM roles included, in scope.
  const std::string role = "arn:aws:iam::111122223333:role/app/agent-runner";
  EXPECT_EQ(Match("arn:aws:s3:::hr", role), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:s3:::hr/*", role), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:s3:::hr", "arn:aws:s3:::hr"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3:::hr/*", "arn:aws:s3:::hr/pay.csv"), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s3:::hr/*", "arn:aws:s3:::hr"), Outcome::kNoMatch);
}

TEST(ResourcePatternTest, MatchWithoutVariablesDoesNotAllocate) {
  const std::vector<ResourcePattern> patterns = {
      ResourcePattern::Compile("arn:aws:s3:::bucket/*/test/*", true),
      ResourcePattern::Compile("arn:aws:ec2:*:*:instance/*", true),
      ResourcePattern::Compile("arn:aws:logs:us-east-1:111122223333:*", true),
      ResourcePattern::Compile("arn:aws:ec2:*", true),
      ResourcePattern::Compile("arn:aws:s3", true),
  };
  const std::vector<std::string> resources = {
      "arn:aws:s3:::bucket/1/2/test/x.jpg",
      "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
      "arn:aws:ec2:us-east-1:111122223333:volume/v-1",
      "arn:aws:logs:us-east-1:111122223333:log-group:a:log-stream:b",
  };
  const Context context;
  const Semantics documented = Documented();
  const Semantics oracle = Oracle();
  // One warm-up pass: function-local statics (the padding "*" glob) are built on first use.
  for (const ResourcePattern& p : patterns) (void)p.Match(resources[0], context, oracle);
  const std::size_t before = g_allocations;
  int matched = 0;
  for (const ResourcePattern& p : patterns) {
    for (const std::string& r : resources) {
      matched += p.Match(r, context, documented) == Outcome::kMatch ? 1 : 0;
      matched += p.Match(r, context, oracle) == Outcome::kMatch ? 1 : 0;
    }
    matched += p.MatchResourceless("ec2", context, documented) == Outcome::kMatch ? 1 : 0;
  }
  EXPECT_EQ(g_allocations, before);
  EXPECT_GT(matched, 5);
  const std::string heap(1000, 'x');  // the counter does see allocations
  EXPECT_GT(g_allocations, before);
}

TEST(ResourcePatternTest, ManyColonsStayFast) {
  std::string resource = "arn:aws:s3:::bucket/";
  for (int i = 0; i < 5000; ++i) resource += "a:";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Match("arn:aws:s*:*:*:x*y", resource), Outcome::kNoMatch);
  EXPECT_EQ(Match("arn:aws:s*:*:*:bucket/*", resource), Outcome::kMatch);
  EXPECT_EQ(Match("arn:aws:s*:*:b*:a:*", resource), Outcome::kNoMatch);  // account is ""
  EXPECT_EQ(Match("arn:aws:s*:*::*/a:a:*", resource), Outcome::kMatch);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// Reference for six-field matching: split the request at every colon; each of the first five
// pattern fields takes one token, the last field the rest.
bool SlowFieldMatch(const std::vector<std::string>& pattern, const std::vector<std::string>& tokens,
                    std::size_t field, std::size_t token) {
  auto join = [&](std::size_t from, std::size_t to) {
    std::string out;
    for (std::size_t i = from; i < to; ++i) out += (i == from ? "" : ":") + tokens[i];
    return out;
  };
  if (token >= tokens.size()) return false;
  const bool fold = field < 5;
  if (field == pattern.size() - 1)
    return GlobMatch(pattern[field], join(token, tokens.size()), fold);
  return GlobMatch(pattern[field], tokens[token], fold) &&
         SlowFieldMatch(pattern, tokens, field + 1, token + 1);
}

std::vector<std::string> SplitAll(const std::string& text) {
  std::vector<std::string> out(1);
  for (char c : text) {
    if (c == ':') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

TEST(ResourcePatternTest, AgreesWithSlowReferenceOnRandomInputs) {
  std::mt19937 rng(4242);
  const std::string pattern_alphabet = "aA*?**";
  const std::string text_alphabet = "aA";
  int matches = 0;
  int multi_colon = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::vector<std::string> fields(6);
    std::string pattern;
    for (std::size_t f = 0; f < 6; ++f) {
      const int length = static_cast<int>(rng() % 3);
      for (int i = 0; i < length; ++i) {
        fields[f] += pattern_alphabet[rng() % pattern_alphabet.size()];
      }
      if (f == 5 && rng() % 3 == 0) fields[f] += ":a";
      pattern += (f == 0 ? "" : ":") + fields[f];
    }
    std::string resource;
    const int tokens = 6 + static_cast<int>(rng() % 4);
    for (int t = 0; t < tokens; ++t) {
      if (t > 0) resource += ':';
      const int length = static_cast<int>(rng() % 2);
      for (int i = 0; i < length; ++i) resource += text_alphabet[rng() % text_alphabet.size()];
    }
    // Compare on the pattern as split at most five times, like the engine.
    const ArnFields split = SplitArn(pattern);
    std::vector<std::string> pattern_fields;
    for (int i = 0; i < split.count; ++i) pattern_fields.emplace_back(split.field[i]);
    const bool expected = SlowFieldMatch(pattern_fields, SplitAll(resource), 0, 0);
    ASSERT_EQ(Match(pattern, resource) == Outcome::kMatch, expected)
        << "pattern `" << pattern << "` resource `" << resource << "`";
    matches += expected ? 1 : 0;
    multi_colon += expected && tokens > 6 ? 1 : 0;
  }
  // The generator must exercise matches, including resource fields holding colons.
  EXPECT_GT(matches, 200);
  EXPECT_GT(multi_colon, 20);
}

TEST(ResourcelessTest, StarAlwaysMatches) {
  EXPECT_EQ(Resourceless("*", "s3"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("*", "s3", Oracle()), Outcome::kMatch);
}

TEST(ResourcelessTest, ServiceWideArnCoversWildcardOnlyActions) {
  // E9, E5, 2.4
  EXPECT_EQ(Resourceless("arn:aws:s3:::*", "s3"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("arn:aws:s3:::*", "S3"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("ARN:AWS:S3:::*", "s3"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("arn:aws:s3:::*", "ec2"), Outcome::kNoMatch);
  EXPECT_EQ(Resourceless("arn:aws:ec2:*:*:*", "ec2"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("arn:aws:ec2:*", "ec2"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("arn:aws:ec2:*:*", "ec2"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("arn:*:s3:::*", "s3"), Outcome::kMatch);
  EXPECT_EQ(Resourceless("arn:aws:*:*:*:*", "iam"), Outcome::kMatch);
}

TEST(ResourcelessTest, NarrowerPatternsDoNotCover) {
  EXPECT_EQ(Resourceless("arn:aws:s3:::reports*", "s3"), Outcome::kNoMatch);  // E9
  EXPECT_EQ(Resourceless("arn:aws:s3:::hr", "s3"), Outcome::kNoMatch);        // E10
  EXPECT_EQ(Resourceless("arn:aws:s3:::hr/*", "s3"), Outcome::kNoMatch);      // E10
  EXPECT_EQ(Resourceless("arn:aws:ec2:us-east-1:*:*", "ec2"), Outcome::kNoMatch);
  EXPECT_EQ(Resourceless("arn:aws:ec2:*:111122223333:*", "ec2"), Outcome::kNoMatch);
  EXPECT_EQ(Resourceless("arn:aws:s3:::${*}", "s3"), Outcome::kNoMatch);  // a literal '*'
  EXPECT_EQ(Resourceless("arn:aws:s3", "s3"), Outcome::kNoMatch);         // short, no '*'
  EXPECT_EQ(Resourceless("urn:aws:s3:::*", "s3"), Outcome::kNoMatch);
}

TEST(ResourcelessTest, PartitionMustMatchCaller) {
  const ResourcePattern p = ResourcePattern::Compile("arn:aws-cn:s3:::*", true);
  EXPECT_EQ(p.MatchResourceless("s3", Context(), Documented()), Outcome::kNoMatch);
  EXPECT_EQ(p.MatchResourceless("s3", Context(), Documented(), "aws-cn"), Outcome::kMatch);
}

TEST(ResourcelessTest, OracleOnlyAcceptsStar) {
  EXPECT_EQ(Resourceless("arn:aws:s3:::*", "s3", Oracle()), Outcome::kNoMatch);
  // Variables are not even looked at.
  EXPECT_EQ(Resourceless("arn:aws:s3:::${aws:username}", "s3", Oracle()), Outcome::kNoMatch);
  Semantics padding = Documented();
  padding.oracle_short_arn_padding = true;
  EXPECT_EQ(Resourceless("arn:aws:s3", "s3", padding), Outcome::kMatch);
}

TEST(ResourcelessTest, VariablesResolveOrReportUnresolved) {
  EXPECT_EQ(Resourceless("arn:aws:s3:::${aws:username}", "s3"), Outcome::kUnresolved);
  Context c;
  c.Set("x", ContextValue::Scalar("*"));  // substituted '*' is literal
  EXPECT_EQ(Resourceless("arn:aws:s3:::${x}", "s3", Documented(), c), Outcome::kNoMatch);
  EXPECT_EQ(Resourceless("arn:aws:s3:::${x, 'y'}*", "s3", Documented(), c), Outcome::kNoMatch);
  Context empty_value;
  empty_value.Set("x", ContextValue::Scalar(""));
  EXPECT_EQ(Resourceless("arn:aws:s3:::${x}*", "s3", Documented(), empty_value), Outcome::kMatch);
}

TEST(ResourcelessTest, DefaultConstructedPatternMatchesNothing) {
  const ResourcePattern p;
  EXPECT_EQ(p.Match("arn:aws:s3:::b", Context(), Documented()), Outcome::kNoMatch);
  EXPECT_EQ(p.MatchResourceless("s3", Context(), Documented()), Outcome::kNoMatch);
}

}  // namespace
}  // namespace xrole::policy
