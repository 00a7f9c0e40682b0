// json.h: a strict, located JSON tree for documents whose errors must point at the user's text
// (IAM policies, evaluation cases). Parsing is done by nlohmann/json's SAX parser; this layer
// adds what policy languages need and general JSON libraries drop: byte offsets and line/column
// of every value and member name, rejection of duplicate member names, the raw text of numbers,
// and nesting/size limits checked while parsing (never recursion on attacker input).
#ifndef XROLE_COMMON_JSON_H_
#define XROLE_COMMON_JSON_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xrole/status.h"

namespace xrole::json {

enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

std::string_view KindName(Kind kind);  // "null", "boolean", "number", "string", "array", "object"

class Value;

struct Member {
  std::string name;
  SourceLocation name_location;
  std::unique_ptr<Value> value;
};

// One JSON value with its location. Immutable after parsing.
class Value {
 public:
  Kind kind() const { return kind_; }
  const SourceLocation& location() const { return location_; }

  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool bool_value() const { return bool_; }
  // For strings: the decoded UTF-8 text. For numbers: the number exactly as written.
  // For booleans: "true"/"false". Empty otherwise.
  const std::string& text() const { return text_; }

  const std::vector<std::unique_ptr<Value>>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }
  // The member named `name` (exact, case-sensitive), or nullptr.
  const Value* Find(std::string_view name) const;

  // Serialises back to compact JSON (numbers keep their original text).
  std::string ToJson() const;

 private:
  friend class TreeBuilder;
  Kind kind_ = Kind::kNull;
  SourceLocation location_;
  bool bool_ = false;
  std::string text_;
  std::vector<std::unique_ptr<Value>> items_;
  std::vector<Member> members_;
};

struct Limits {
  std::size_t max_bytes = 16u << 20;  // whole input
  int max_depth = 64;                 // nesting of arrays/objects
};

// Parses exactly one JSON value (surrounding whitespace allowed). Errors carry the line/column
// of the problem: syntax errors, duplicate member names ("duplicate member `Effect`"), depth and
// size limits. `first_line` offsets reported line numbers (for a value that is one line of a
// larger file).
Result<std::unique_ptr<Value>> Parse(std::string_view text, const Limits& limits = {},
                                     int first_line = 1);

// Appends `s` to `out` as a JSON string literal (with quotes).
void AppendQuoted(std::string& out, std::string_view s);

}  // namespace xrole::json

#endif  // XROLE_COMMON_JSON_H_
