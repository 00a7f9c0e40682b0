#include "policy/variables.h"

#include <utility>

namespace xrole::policy {
namespace {

// Characters a variable name may contain: anything printable except white space, quotes,
// braces, '$' and ','. Covers aws:username, aws:PrincipalTag/team, s3:prefix and the like.
bool IsKeyChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u == 0x7f) return false;
  switch (c) {
    case '{':
    case '}':
    case '$':
    case ',':
    case '\'':
    case '"':
    case '*':
    case '?':
      return false;
    default:
      return true;
  }
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// One "${...}" reference starting at text[start] == '$', text[start + 1] == '{'.
struct Reference {
  enum class Kind { kVariable, kEscape } kind = Kind::kVariable;
  std::string_view key;  // the name as written, or the escaped character
  bool has_default = false;
  std::string_view default_value;
  std::size_t end = 0;  // one past the closing '}'
};

// Parses a reference, or describes why it is malformed in `*error` and returns false.
bool ParseReference(std::string_view text, std::size_t start, Reference* ref, std::string* error) {
  std::size_t i = start + 2;
  const std::size_t close = text.find('}', i);
  if (close == std::string_view::npos) {
    *error = "missing closing brace";
    return false;
  }
  if (close == i) {
    *error = "empty name";
    return false;
  }
  if (close == i + 1 && (text[i] == '*' || text[i] == '?' || text[i] == '$')) {
    ref->kind = Reference::Kind::kEscape;
    ref->key = text.substr(i, 1);
    ref->end = close + 1;
    return true;
  }
  const std::size_t key_start = i;
  while (i < text.size() && IsKeyChar(text[i])) ++i;
  ref->kind = Reference::Kind::kVariable;
  ref->key = text.substr(key_start, i - key_start);
  if (i < text.size() && text[i] == '}') {
    if (ref->key.empty()) {
      *error = "empty name";
      return false;
    }
    ref->end = i + 1;
    return true;
  }
  std::size_t j = i;
  while (j < text.size() && text[j] == ' ') ++j;
  if (ref->key.empty()) {
    *error = (j < text.size() && text[j] == '}') ? "empty name" : "invalid character in name";
    return false;
  }
  if (j < text.size() && text[j] != ',' && j > i) {
    *error = "space in name";
    return false;
  }
  if (j >= text.size() || text[j] != ',') {
    *error = "invalid character in name";
    return false;
  }
  i = j;
  // ", 'default'": a comma, optional spaces, a single-quoted value, optional spaces, '}'.
  ++i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i >= text.size() || text[i] != '\'') {
    *error = "default must be a single-quoted string";
    return false;
  }
  const std::size_t value_start = ++i;
  const std::size_t quote = text.find('\'', value_start);
  if (quote == std::string_view::npos) {
    *error = "default is missing its closing quote";
    return false;
  }
  i = quote + 1;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i >= text.size() || text[i] != '}') {
    *error = "expected `}` after the default";
    return false;
  }
  ref->has_default = true;
  ref->default_value = text.substr(value_start, quote - value_start);
  ref->end = i + 1;
  return true;
}

// The single value a variable resolves to, or nullptr when it cannot be resolved.
// Stands in for a variable that resolves but matches nothing: the byte 0xFF never occurs in
// UTF-8 text, so no request value or ARN contains it.
const std::string& MatchesNothing() {
  static const std::string* const kText = new std::string("\xff");
  return *kText;
}

// With `empty_is_missing` a key holding "" takes the variable's non-empty default, or else a
// value that matches nothing (the oracle's way; the variable is still resolved).
const std::string* Resolve(const Template::Part& part, const Context& context,
                           bool empty_is_missing) {
  const ContextValue* value = context.Find(part.text);
  if (value == nullptr) return part.default_value ? &*part.default_value : nullptr;
  // Multivalued keys never substitute, whatever their default.
  if (value->is_list || value->values.size() != 1) return nullptr;
  if (empty_is_missing && value->values.front().empty()) {
    return part.default_value && !part.default_value->empty() ? &*part.default_value
                                                              : &MatchesNothing();
  }
  return &value->values.front();
}

}  // namespace

Template Template::Parse(std::string_view text, bool variables_enabled) {
  Template result;
  if (!variables_enabled) {
    result.parts_.push_back(Part{Part::Kind::kText, std::string(text), std::nullopt});
    return result;
  }
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    result.parts_.push_back(Part{Part::Kind::kText, std::move(literal), std::nullopt});
    literal.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      Reference ref;
      std::string error;
      if (ParseReference(text, i, &ref, &error)) {
        flush();
        if (ref.kind == Reference::Kind::kEscape) {
          result.parts_.push_back(Part{Part::Kind::kEscape, std::string(ref.key), std::nullopt});
        } else {
          std::optional<std::string> default_value;
          if (ref.has_default) default_value = std::string(ref.default_value);
          result.parts_.push_back(
              Part{Part::Kind::kVariable, LowerAscii(ref.key), std::move(default_value)});
        }
        i = ref.end;
        continue;
      }
      // Malformed: keep "${" as text and go on after it.
      literal.append("${");
      i += 2;
      continue;
    }
    literal.push_back(text[i]);
    ++i;
  }
  flush();
  return result;
}

bool Template::ExpandToGlob(const Context& context, Glob* out, bool empty_is_missing) const {
  for (const Part& part : parts_) {
    switch (part.kind) {
      case Part::Kind::kText:
        out->AppendPattern(part.text);
        break;
      case Part::Kind::kEscape:
        out->AppendLiteral(part.text);
        break;
      case Part::Kind::kVariable: {
        const std::string* value = Resolve(part, context, empty_is_missing);
        if (value == nullptr) return false;
        out->AppendLiteral(*value);
        break;
      }
    }
  }
  return true;
}

bool Template::ExpandToText(const Context& context, std::string* out, bool escapes_as_written,
                            bool empty_is_missing) const {
  for (const Part& part : parts_) {
    if (part.kind == Part::Kind::kVariable) {
      const std::string* value = Resolve(part, context, empty_is_missing);
      if (value == nullptr) return false;
      out->append(*value);
    } else if (part.kind == Part::Kind::kEscape && escapes_as_written) {
      out->append("${").append(part.text).append("}");
    } else {
      out->append(part.text);
    }
  }
  return true;
}

bool Template::has_variables() const {
  for (const Part& part : parts_) {
    if (part.kind != Part::Kind::kText) return true;
  }
  return false;
}

Status ValidateVariables(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      Reference ref;
      std::string error;
      if (!ParseReference(text, i, &ref, &error)) {
        const std::size_t close = text.find('}', i);
        const std::size_t end = close == std::string_view::npos ? text.size() : close + 1;
        return Error(
            ErrorCode::kMalformedPolicy,
            "malformed policy variable `" + std::string(text.substr(i, end - i)) + "`: " + error);
      }
      i = ref.end;
      continue;
    }
    ++i;
  }
  return OkStatus();
}

}  // namespace xrole::policy
