#include "policy/glob.h"

#include <cstring>

namespace xrole::policy {
namespace {

inline char FoldAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualBytes(const char* a, const char* b, std::size_t n, bool ignore_case) {
  if (!ignore_case) return n == 0 || std::memcmp(a, b, n) == 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (FoldAscii(a[i]) != FoldAscii(b[i])) return false;
  }
  return true;
}

}  // namespace

Glob Glob::FromPattern(std::string_view pattern) {
  Glob glob;
  glob.AppendPattern(pattern);
  return glob;
}

Glob Glob::FromLiteral(std::string_view text) {
  Glob glob;
  glob.AppendLiteral(text);
  return glob;
}

void Glob::AppendPattern(std::string_view pattern) {
  std::size_t literal_start = 0;
  auto flush_literal = [&](std::size_t end) {
    if (end == literal_start) return;
    std::string_view piece = pattern.substr(literal_start, end - literal_start);
    if (!tokens_.empty() && tokens_.back().kind == TokenKind::kLiteral) {
      tokens_.back().text.append(piece);
    } else {
      tokens_.push_back({TokenKind::kLiteral, std::string(piece)});
    }
  };
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c != '*' && c != '?') continue;
    flush_literal(i);
    literal_start = i + 1;
    if (c == '*') {
      if (tokens_.empty() || tokens_.back().kind != TokenKind::kStar) {
        tokens_.push_back({TokenKind::kStar, {}});
      }
    } else {
      tokens_.push_back({TokenKind::kAnyChar, {}});
    }
  }
  flush_literal(pattern.size());
  Compile();
}

void Glob::AppendLiteral(std::string_view text) {
  if (text.empty()) return;
  if (!tokens_.empty() && tokens_.back().kind == TokenKind::kLiteral) {
    tokens_.back().text.append(text);
  } else {
    tokens_.push_back({TokenKind::kLiteral, std::string(text)});
  }
  Compile();
}

void Glob::Clear() {
  tokens_.clear();
  Compile();
}

void Glob::Compile() {
  chars_.clear();
  any_char_.clear();
  pieces_.clear();
  min_length_ = 0;
  pieces_.push_back(Piece{});
  for (const Token& token : tokens_) {
    switch (token.kind) {
      case TokenKind::kLiteral:
        chars_.append(token.text);
        any_char_.insert(any_char_.end(), token.text.size(), 0);
        pieces_.back().size += token.text.size();
        break;
      case TokenKind::kAnyChar:
        chars_.push_back('?');
        any_char_.push_back(1);
        pieces_.back().size += 1;
        pieces_.back().has_any_char = true;
        break;
      case TokenKind::kStar:
        pieces_.push_back(Piece{chars_.size(), 0, false});
        break;
    }
  }
  for (const Piece& piece : pieces_) min_length_ += piece.size;

  if (tokens_.empty()) {
    shape_ = Shape::kEmpty;
  } else if (pieces_.size() == 1) {
    shape_ = pieces_[0].has_any_char ? Shape::kGeneral : Shape::kExact;
  } else if (pieces_.size() == 2 && min_length_ == 0) {
    shape_ = Shape::kMatchAll;
  } else if (pieces_.size() == 2 && pieces_[1].size == 0 && !pieces_[0].has_any_char) {
    shape_ = Shape::kPrefix;
  } else if (pieces_.size() == 2 && pieces_[0].size == 0 && !pieces_[1].has_any_char) {
    shape_ = Shape::kSuffix;
  } else {
    shape_ = Shape::kGeneral;
  }
}

bool Glob::PieceMatchesAt(const Piece& piece, const char* text, bool ignore_case) const {
  const char* pattern = chars_.data() + piece.begin;
  if (!piece.has_any_char) return EqualBytes(pattern, text, piece.size, ignore_case);
  const unsigned char* any = any_char_.data() + piece.begin;
  for (std::size_t i = 0; i < piece.size; ++i) {
    if (any[i] != 0) continue;
    if (ignore_case ? FoldAscii(pattern[i]) != FoldAscii(text[i]) : pattern[i] != text[i]) {
      return false;
    }
  }
  return true;
}

// Leftmost position of `piece` in `text`, or npos.
std::size_t Glob::FindPiece(const Piece& piece, std::string_view text, bool ignore_case) const {
  if (piece.size > text.size()) return std::string_view::npos;
  if (!piece.has_any_char && !ignore_case) {
    return text.find(std::string_view(chars_.data() + piece.begin, piece.size));
  }
  const std::size_t last_start = text.size() - piece.size;
  for (std::size_t start = 0; start <= last_start; ++start) {
    if (PieceMatchesAt(piece, text.data() + start, ignore_case)) return start;
  }
  return std::string_view::npos;
}

bool Glob::Matches(std::string_view text, bool ignore_case) const {
  switch (shape_) {
    case Shape::kEmpty:
      return text.empty();
    case Shape::kMatchAll:
      return true;
    case Shape::kExact:
      return text.size() == chars_.size() &&
             EqualBytes(chars_.data(), text.data(), text.size(), ignore_case);
    case Shape::kPrefix:
      return text.size() >= chars_.size() &&
             EqualBytes(chars_.data(), text.data(), chars_.size(), ignore_case);
    case Shape::kSuffix:
      return text.size() >= chars_.size() &&
             EqualBytes(chars_.data(), text.data() + (text.size() - chars_.size()), chars_.size(),
                        ignore_case);
    case Shape::kGeneral:
      break;
  }
  if (text.size() < min_length_) return false;
  const Piece& first = pieces_.front();
  if (pieces_.size() == 1) {
    return text.size() == first.size && PieceMatchesAt(first, text.data(), ignore_case);
  }
  // Text = first * middle_1 * ... * middle_k * last. The first and last pieces are anchored;
  // each middle piece is placed leftmost after the previous one, which leaves the most room
  // for the rest, so a single left-to-right pass decides the match.
  const Piece& last = pieces_.back();
  if (!PieceMatchesAt(first, text.data(), ignore_case)) return false;
  const std::size_t end = text.size() - last.size;
  if (!PieceMatchesAt(last, text.data() + end, ignore_case)) return false;
  std::size_t pos = first.size;
  for (std::size_t i = 1; i + 1 < pieces_.size(); ++i) {
    const Piece& piece = pieces_[i];
    if (piece.size == 0) continue;
    const std::size_t found = FindPiece(piece, text.substr(pos, end - pos), ignore_case);
    if (found == std::string_view::npos) return false;
    pos += found + piece.size;
  }
  return true;
}

bool Glob::has_wildcards() const {
  for (const Token& token : tokens_) {
    if (token.kind != TokenKind::kLiteral) return true;
  }
  return false;
}

bool Glob::is_match_all() const {
  return tokens_.size() == 1 && tokens_[0].kind == TokenKind::kStar;
}

bool Glob::ends_with_star() const {
  return !tokens_.empty() && tokens_.back().kind == TokenKind::kStar;
}

std::string Glob::DebugString() const {
  std::string out;
  for (const Token& token : tokens_) {
    switch (token.kind) {
      case TokenKind::kStar:
        out.push_back('*');
        break;
      case TokenKind::kAnyChar:
        out.push_back('?');
        break;
      case TokenKind::kLiteral:
        for (char c : token.text) {
          if (c == '*' || c == '?' || c == '$') {
            out.append("${").push_back(c);
            out.push_back('}');
          } else {
            out.push_back(c);
          }
        }
        break;
    }
  }
  return out;
}

bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  return Glob::FromPattern(pattern).Matches(text, ignore_case);
}

}  // namespace xrole::policy
