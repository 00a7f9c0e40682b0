#include "policy/glob.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

// Counts heap allocations so the tests can check that Matches() never allocates.
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

// Slow reference: dynamic programming over (pattern, text) positions. `wild` marks which
// pattern bytes are wildcards.
bool SlowMatch(const std::string& pattern, const std::vector<bool>& wild, const std::string& text,
               bool ignore_case) {
  auto fold = [&](char c) {
    return ignore_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  const std::size_t n = pattern.size();
  const std::size_t m = text.size();
  std::vector<std::vector<char>> dp(n + 1, std::vector<char>(m + 1, 0));
  dp[n][m] = 1;
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m + 1; j-- > 0;) {
      if (wild[i] && pattern[i] == '*') {
        dp[i][j] = dp[i + 1][j] || (j < m && dp[i][j + 1]);
      } else if (j < m && ((wild[i] && pattern[i] == '?') || fold(pattern[i]) == fold(text[j]))) {
        dp[i][j] = dp[i + 1][j + 1];
      }
    }
  }
  return dp[0][0] != 0;
}

bool SlowPatternMatch(const std::string& pattern, const std::string& text, bool ignore_case) {
  return SlowMatch(pattern, std::vector<bool>(pattern.size(), true), text, ignore_case);
}

TEST(GlobTest, LiteralIsExactCompare) {
  const Glob g = Glob::FromPattern("s3:GetObject");
  EXPECT_FALSE(g.has_wildcards());
  EXPECT_TRUE(g.Matches("s3:GetObject"));
  EXPECT_FALSE(g.Matches("s3:GetObjects"));
  EXPECT_FALSE(g.Matches("s3:GetObjec"));
  EXPECT_FALSE(g.Matches("s3:getobject"));
  EXPECT_TRUE(g.Matches("S3:GETOBJECT", /*ignore_case=*/true));
  EXPECT_FALSE(g.Matches(""));
}

TEST(GlobTest, StarMatchesEverything) {
  const Glob g = Glob::FromPattern("*");
  EXPECT_TRUE(g.is_match_all());
  EXPECT_TRUE(g.Matches(""));
  EXPECT_TRUE(g.Matches("arn:aws:s3:::bucket/key"));
  EXPECT_TRUE(Glob::FromPattern("***").is_match_all());  // runs of '*' collapse
  EXPECT_FALSE(Glob::FromPattern("*?").is_match_all());
  EXPECT_FALSE(Glob::FromLiteral("*").is_match_all());
}

TEST(GlobTest, StarMatchesEmptyAndSlashAndColon) {
  EXPECT_TRUE(GlobMatch("s3:GetObject*", "s3:GetObject"));  // E2: zero characters
  EXPECT_TRUE(GlobMatch("a*b", "ab"));
  EXPECT_TRUE(GlobMatch("a*b", "a/x:y/b"));
  EXPECT_FALSE(GlobMatch("a*b", "a/x:y/bc"));
}

TEST(GlobTest, QuestionMarkIsExactlyOneCharacter) {
  // E2
  EXPECT_TRUE(GlobMatch("s3:Get?bject", "s3:GetObject"));
  EXPECT_FALSE(GlobMatch("s3:Get?", "s3:GetObject"));
  EXPECT_FALSE(GlobMatch("a?", "a"));
  EXPECT_TRUE(GlobMatch("a?", "ab"));
  EXPECT_FALSE(GlobMatch("a?", "abc"));
  EXPECT_TRUE(GlobMatch("???", "a/:"));
}

TEST(GlobTest, PrefixAndSuffixShapes) {
  EXPECT_TRUE(GlobMatch("iam:*", "iam:ListUsers"));
  EXPECT_FALSE(GlobMatch("iam:*", "ia"));
  EXPECT_FALSE(GlobMatch("iam:*", "sts:AssumeRole"));
  EXPECT_TRUE(GlobMatch("IAM:*", "iam:ListUsers", true));
  EXPECT_TRUE(GlobMatch("*.csv", "report.csv"));
  EXPECT_TRUE(GlobMatch("*.csv", ".csv"));
  EXPECT_FALSE(GlobMatch("*.csv", "report.csvx"));
  EXPECT_TRUE(GlobMatch("*.CSV", "report.csv", true));
}

TEST(GlobTest, AnchoredAtBothEnds) {
  EXPECT_FALSE(GlobMatch("abc", "xabc"));
  EXPECT_FALSE(GlobMatch("abc", "abcx"));
  EXPECT_FALSE(GlobMatch("a*c", "abcx"));
  EXPECT_FALSE(GlobMatch("a*c", "xabc"));
  // The last piece must sit at the end even if it also occurs earlier.
  EXPECT_TRUE(GlobMatch("*ab", "abab"));
  EXPECT_TRUE(GlobMatch("ab*ab", "abab"));
  EXPECT_FALSE(GlobMatch("ab*ab", "aba"));  // first and last pieces may not overlap
}

TEST(GlobTest, MiddlePiecesFoundLeftmost) {
  EXPECT_TRUE(GlobMatch("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_FALSE(GlobMatch("*a*b*c*", "xxcxxbxxaxx"));
  EXPECT_TRUE(GlobMatch("*/test/*", "bucket/1/2/test/x.jpg"));
  EXPECT_TRUE(GlobMatch("a*?b*c", "aXbYc"));
  EXPECT_FALSE(GlobMatch("a*?b*c", "abc"));
  EXPECT_TRUE(GlobMatch("*a?c*", "zzabczz"));
  EXPECT_TRUE(GlobMatch("*a?c*", "aacc"));
}

TEST(GlobTest, S3ExamplesFromTheGuide) {
  // iam-semantics.md 2.3: bucket/*/test/*
  const Glob g = Glob::FromPattern("bucket/*/test/*");
  EXPECT_TRUE(g.Matches("bucket/1/2/test/x.jpg"));
  EXPECT_TRUE(g.Matches("bucket//test/object.jpg"));
  EXPECT_TRUE(g.Matches("bucket/1/test/"));
  EXPECT_FALSE(g.Matches("bucket/test/object.jpg"));
}

TEST(GlobTest, IgnoreCaseFoldsAsciiOnly) {
  EXPECT_TRUE(GlobMatch("AbC*", "aBc-x", true));
  EXPECT_FALSE(GlobMatch("AbC*", "aBc-x", false));
  // Non-ASCII bytes are compared as they are: "É" (C3 89) vs "é" (C3 A9).
  EXPECT_FALSE(GlobMatch("\xC3\x89*", "\xC3\xA9t\xC3\xA9", true));
  EXPECT_TRUE(GlobMatch("\xC3\xA9*", "\xC3\xA9t\xC3\xA9", true));
  // '[' and '{' lie next to 'Z'/'z' in ASCII but are not letters.
  EXPECT_FALSE(GlobMatch("[", "{", true));
  EXPECT_FALSE(GlobMatch("@", "`", true));
}

TEST(GlobTest, LiteralPartsAreNeverWildcards) {
  Glob g;
  g.AppendPattern("tmp");
  g.AppendLiteral("*");            // e.g. from ${*}
  EXPECT_TRUE(g.Matches("tmp*"));  // E16
  EXPECT_FALSE(g.Matches("tmp-1"));
  EXPECT_FALSE(g.has_wildcards());

  Glob h;
  h.AppendPattern("home/");
  h.AppendLiteral("a?b*");  // a substituted value
  h.AppendPattern("/*");
  EXPECT_TRUE(h.Matches("home/a?b*/x"));
  EXPECT_FALSE(h.Matches("home/axb*/x"));
  EXPECT_FALSE(h.Matches("home/a?bc/x"));
  EXPECT_TRUE(h.has_wildcards());
  EXPECT_EQ(h.DebugString(), "home/a${?}b${*}/*");
}

TEST(GlobTest, FromLiteralMatchesOnlyItself) {
  const Glob g = Glob::FromLiteral("a*b?c$");
  EXPECT_TRUE(g.Matches("a*b?c$"));
  EXPECT_FALSE(g.Matches("aXXb?c$"));
  EXPECT_FALSE(g.Matches("a*bXc$"));
  EXPECT_EQ(g.DebugString(), "a${*}b${?}c${$}");
}

TEST(GlobTest, EmptyGlobMatchesOnlyEmptyText) {
  Glob g;
  EXPECT_TRUE(g.empty());
  EXPECT_TRUE(g.Matches(""));
  EXPECT_FALSE(g.Matches("a"));
  EXPECT_TRUE(Glob::FromPattern("").Matches(""));
  EXPECT_FALSE(Glob::FromPattern("").Matches(" "));
  g.AppendPattern("a*");
  EXPECT_TRUE(g.Matches("abc"));
  g.Clear();
  EXPECT_TRUE(g.empty());
  EXPECT_FALSE(g.Matches("abc"));
}

TEST(GlobTest, EndsWithStar) {
  EXPECT_TRUE(Glob::FromPattern("app*").ends_with_star());
  EXPECT_FALSE(Glob::FromPattern("app*x").ends_with_star());
  EXPECT_FALSE(Glob::FromLiteral("app*").ends_with_star());
  EXPECT_FALSE(Glob().ends_with_star());
}

TEST(GlobTest, DebugStringShowsWildcards) {
  EXPECT_EQ(Glob::FromPattern("a*b?c").DebugString(), "a*b?c");
  EXPECT_EQ(Glob::FromPattern("a**b").DebugString(), "a*b");
  EXPECT_EQ(Glob::FromPattern("pay$").DebugString(), "pay${$}");
}

TEST(GlobTest, NoSpacesTrimmed) {
  // E3: no trimming, no splitting.
  EXPECT_FALSE(GlobMatch("s3:GetObject ", "s3:GetObject"));
  EXPECT_FALSE(GlobMatch("s3:GetObject,s3:PutObject", "s3:GetObject"));
}

TEST(GlobTest, EmbeddedNulBytes) {
  const std::string pattern("a\0*b", 4);
  EXPECT_TRUE(GlobMatch(pattern, std::string("a\0xyzb", 6)));
  EXPECT_FALSE(GlobMatch(pattern, "axyzb"));
}

TEST(GlobTest, MatchesNeverAllocates) {
  const std::vector<Glob> globs = {
      Glob::FromPattern("exact"),     Glob::FromPattern("pre*"),
      Glob::FromPattern("*suf"),      Glob::FromPattern("*"),
      Glob::FromPattern("a*b?c*d"),   Glob::FromPattern("?x?"),
      Glob::FromPattern("*mid*dle*"), Glob(),
  };
  const std::string text = "pre-a-b-c-d-mid-dle-suf";
  const std::size_t before = g_allocations;
  int matched = 0;
  for (const Glob& g : globs) {
    matched += g.Matches(text) ? 1 : 0;
    matched += g.Matches(text, true) ? 1 : 0;
  }
  EXPECT_EQ(g_allocations, before);
  EXPECT_GT(matched, 0);
  // The counter does see allocations.
  const std::string heap(1000, 'x');
  EXPECT_GT(g_allocations, before);
}

TEST(GlobTest, LongTextStaysLinear) {
  // A classic backtracking killer: a*a*a*...b against aaaa...a.
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "a*";
  pattern += "b";
  const std::string text(100000, 'a');
  EXPECT_FALSE(GlobMatch(pattern, text));
  EXPECT_TRUE(GlobMatch(pattern, text + "b"));
}

TEST(GlobTest, AgreesWithSlowReferenceOnRandomInputs) {
  std::mt19937 rng(12345);
  const std::string alphabet = "abAB*?/:";
  const std::string text_alphabet = "abAB*?/:";
  int matches = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string pattern;
    std::string text;
    const int pattern_length = static_cast<int>(rng() % 9);
    const int text_length = static_cast<int>(rng() % 12);
    for (int i = 0; i < pattern_length; ++i) pattern += alphabet[rng() % alphabet.size()];
    for (int i = 0; i < text_length; ++i) text += text_alphabet[rng() % text_alphabet.size()];
    for (bool ignore_case : {false, true}) {
      const bool expected = SlowPatternMatch(pattern, text, ignore_case);
      ASSERT_EQ(Glob::FromPattern(pattern).Matches(text, ignore_case), expected)
          << "pattern `" << pattern << "` text `" << text << "` ignore_case " << ignore_case;
      matches += expected ? 1 : 0;
    }
  }
  EXPECT_GT(matches, 1000);  // the generator must exercise both outcomes
}

TEST(GlobTest, MixedLiteralAndPatternAgreesWithReference) {
  std::mt19937 rng(777);
  const std::string alphabet = "ab*?";
  for (int iteration = 0; iteration < 5000; ++iteration) {
    Glob g;
    std::string flat;
    std::vector<bool> wild;
    const int parts = static_cast<int>(rng() % 4);
    for (int p = 0; p < parts; ++p) {
      std::string piece;
      const int length = static_cast<int>(rng() % 4);
      for (int i = 0; i < length; ++i) piece += alphabet[rng() % alphabet.size()];
      const bool literal = rng() % 2 == 0;
      if (literal) {
        g.AppendLiteral(piece);
      } else {
        g.AppendPattern(piece);
      }
      flat += piece;
      wild.insert(wild.end(), piece.size(), !literal);
    }
    std::string text;
    const int text_length = static_cast<int>(rng() % 8);
    for (int i = 0; i < text_length; ++i) text += alphabet[rng() % alphabet.size()];
    ASSERT_EQ(g.Matches(text), SlowMatch(flat, wild, text, false))
        << "glob `" << g.DebugString() << "` text `" << text << "`";
  }
}

}  // namespace
}  // namespace xrole::policy
