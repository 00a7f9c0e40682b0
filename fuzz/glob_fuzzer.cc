// glob_fuzzer.cc: the policy wildcard matcher (policy/glob.h) against a slow std::regex oracle
// built from the same pattern. Input: pattern bytes, a 0x00 separator, then text bytes (no
// separator: the first half is the pattern). Lengths are capped so std::regex stays fast.
// Any disagreement, with or without ignore_case, aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <string_view>

#include "policy/glob.h"

namespace {

constexpr std::size_t kMaxPattern = 24;
constexpr std::size_t kMaxText = 64;

std::string PatternToRegex(std::string_view pattern) {
  std::string out;
  char previous = '\0';
  for (char c : pattern) {
    const bool repeated_star = c == '*' && previous == '*';
    previous = c;
    switch (c) {
      case '*':
        // "**" means what "*" means; one regex star per run keeps backtracking down.
        if (!repeated_star) out += "[\\s\\S]*";
        break;
      case '?':
        out += "[\\s\\S]";
        break;
      case '\\':
      case '^':
      case '$':
      case '.':
      case '|':
      case '+':
      case '(':
      case ')':
      case '[':
      case ']':
      case '{':
      case '}':
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool RegexMatches(std::string_view pattern, std::string_view text, bool ignore_case) {
  auto flags = std::regex::ECMAScript;
  if (ignore_case) flags |= std::regex::icase;
  const std::regex re(PatternToRegex(pattern), flags);
  return std::regex_match(text.begin(), text.end(), re);
}

// icase in std::regex follows the locale's tolower; keep the oracle to inputs where that is
// ASCII folding (bytes >= 0x80 are left alone by the "C" locale, which is what we run in).
void Check(std::string_view pattern, std::string_view text, bool ignore_case) {
  const bool expected = RegexMatches(pattern, text, ignore_case);
  const bool actual = xrole::policy::Glob::FromPattern(pattern).Matches(text, ignore_case);
  if (expected != actual) {
    std::fprintf(
        stderr,
        "glob disagrees with regex: pattern `%.*s` text `%.*s` ignore_case %d: glob %d regex %d\n",
        static_cast<int>(pattern.size()), pattern.data(), static_cast<int>(text.size()),
        text.data(), ignore_case ? 1 : 0, actual ? 1 : 0, expected ? 1 : 0);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view pattern;
  std::string_view text;
  const std::size_t separator = input.find('\0');
  if (separator != std::string_view::npos) {
    pattern = input.substr(0, separator);
    text = input.substr(separator + 1);
  } else {
    pattern = input.substr(0, input.size() / 2);
    text = input.substr(input.size() / 2);
  }
  if (pattern.size() > kMaxPattern || text.size() > kMaxText) return 0;
  Check(pattern, text, false);
  Check(pattern, text, true);
  return 0;
}
