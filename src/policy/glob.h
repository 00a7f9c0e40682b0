// glob.h: the one wildcard matcher of the policy engine, shared by actions, resources and the
// *Like condition operators. '*' matches any run of characters (including none, including '/'
// and ':'), '?' exactly one character, everything else is literal; the match is anchored at
// both ends. No regex and no backtracking: the pattern is cut at its '*'s and each piece is
// found once, leftmost, so matching costs at most O(|text| * |pattern|) and is linear for
// pieces without '?'. A Glob is built from policy text (wildcards active) and literal text
// (substituted policy variables, the ${*} ${?} ${$} escapes), so a '*' that came from a
// variable's value never acts as a wildcard.
#ifndef XROLE_POLICY_GLOB_H_
#define XROLE_POLICY_GLOB_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace xrole::policy {

class Glob {
 public:
  Glob() = default;
  // A glob whose '*' and '?' are all wildcards.
  static Glob FromPattern(std::string_view pattern);
  // A glob that matches exactly `text`.
  static Glob FromLiteral(std::string_view text);

  void AppendPattern(std::string_view pattern);  // '*' and '?' are wildcards
  void AppendLiteral(std::string_view text);     // every byte literal
  void Clear();

  // Whole-text match. `ignore_case` folds ASCII letters only. Never allocates; safe to call
  // concurrently on a const Glob.
  bool Matches(std::string_view text, bool ignore_case = false) const;

  bool has_wildcards() const;
  bool empty() const { return tokens_.empty(); }
  // True when the glob is exactly one '*' (matches everything).
  bool is_match_all() const;
  // True when the last token is a wildcard '*' (not a literal '*').
  bool ends_with_star() const;
  // Text with wildcards shown as '*'/'?' and literal '*'/'?'/'$' shown as ${*}/${?}/${$}.
  std::string DebugString() const;

 private:
  enum class TokenKind : unsigned char { kLiteral, kStar, kAnyChar };
  struct Token {
    TokenKind kind;
    std::string text;  // kLiteral only
  };
  // The matcher's form of tokens_, rebuilt by every Append*: the text between '*'s as pieces
  // of chars_ ('?' positions flagged in any_char_), plus the fast-path shape.
  enum class Shape : unsigned char { kEmpty, kExact, kPrefix, kSuffix, kMatchAll, kGeneral };
  struct Piece {
    std::size_t begin = 0;
    std::size_t size = 0;
    bool has_any_char = false;
  };
  void Compile();
  bool PieceMatchesAt(const Piece& piece, const char* text, bool ignore_case) const;
  std::size_t FindPiece(const Piece& piece, std::string_view text, bool ignore_case) const;

  std::vector<Token> tokens_;
  // INVARIANT: no two adjacent kLiteral tokens, no two adjacent kStar tokens, no empty
  // kLiteral token.
  Shape shape_ = Shape::kEmpty;
  std::string chars_;
  // Parallel to chars_: 1 where the pattern has a wildcard '?'.
  std::vector<unsigned char> any_char_;
  // Once compiled, one more than the number of '*' tokens (empty for a default Glob).
  std::vector<Piece> pieces_;
  std::size_t min_length_ = 0;  // sum of piece sizes
};

// Convenience for plain patterns: Glob::FromPattern(pattern).Matches(text, ignore_case).
bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case = false);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_GLOB_H_
