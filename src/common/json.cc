#include "common/json.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace xrole::json {
namespace {

// Maps byte offsets to 1-based line/column.
class LineIndex {
 public:
  LineIndex(std::string_view text, int first_line) : first_line_(first_line) {
    starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') starts_.push_back(i + 1);
    }
  }
  SourceLocation At(std::size_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    std::size_t line = static_cast<std::size_t>(it - starts_.begin());  // >= 1
    SourceLocation loc;
    loc.line = first_line_ + static_cast<int>(line) - 1;
    loc.column = static_cast<int>(offset - starts_[line - 1]) + 1;
    loc.offset = offset;
    return loc;
  }

 private:
  int first_line_;
  std::vector<std::size_t> starts_;
};

// A forward iterator over the input that records how many bytes the parser has pulled.
class CountingIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator() = default;
  CountingIterator(const char* p, const char* base, std::size_t* pulled)
      : p_(p), base_(base), pulled_(pulled) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    ++p_;
    if (pulled_ != nullptr) *pulled_ = static_cast<std::size_t>(p_ - base_);
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator copy = *this;
    ++*this;
    return copy;
  }
  bool operator==(const CountingIterator& o) const { return p_ == o.p_; }
  bool operator!=(const CountingIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_ = nullptr;
  const char* base_ = nullptr;
  std::size_t* pulled_ = nullptr;
};

bool IsNumberChar(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

bool IsSkippable(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ':' || c == '[' ||
         c == '{';
}

}  // namespace

// Builds the located tree from SAX events.
class TreeBuilder {
 public:
  using number_integer_t = nlohmann::json::number_integer_t;
  using number_unsigned_t = nlohmann::json::number_unsigned_t;
  using number_float_t = nlohmann::json::number_float_t;
  using string_t = nlohmann::json::string_t;
  using binary_t = nlohmann::json::binary_t;

  TreeBuilder(std::string_view text, const Limits& limits, const LineIndex& lines,
              const std::size_t* pulled)
      : text_(text), limits_(limits), lines_(lines), pulled_(pulled) {}

  bool null() { return AddScalar(Kind::kNull, "", TokenStart()); }
  bool boolean(bool v) {
    auto start = TokenStart();
    if (!AddScalar(Kind::kBool, v ? "true" : "false", start)) return false;
    Last()->bool_ = v;
    return true;
  }
  bool number_integer(number_integer_t) { return AddNumber(); }
  bool number_unsigned(number_unsigned_t) { return AddNumber(); }
  bool number_float(number_float_t, const string_t&) { return AddNumber(); }
  bool string(string_t& s) { return AddScalar(Kind::kString, std::move(s), TokenStart()); }
  bool binary(binary_t&) { return Fail("binary values are not JSON", *pulled_); }

  bool start_object(std::size_t) { return Open(Kind::kObject); }
  bool start_array(std::size_t) { return Open(Kind::kArray); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(string_t& name) {
    std::size_t start = TokenStart();
    Frame& frame = stack_.back();
    if (!frame.seen.insert(name).second) {
      return Fail("duplicate member `" + name + "`", start);
    }
    Member m;
    m.name = std::move(name);
    m.name_location = lines_.At(start);
    frame.value->members_.push_back(std::move(m));
    last_end_ = *pulled_;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, column 2: ".
    auto colon = what.find(": ");
    if (what.rfind("[json.exception", 0) == 0 && colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    if (!error_) {
      Fail("invalid JSON: " + what, position > 0 ? position - 1 : 0);
    }
    return false;
  }

  std::unique_ptr<Value> TakeRoot() { return std::move(root_); }
  const std::unique_ptr<Error>& error() const { return error_; }

 private:
  struct Frame {
    Value* value;
    std::unordered_set<std::string> seen;
  };

  Value* Last() { return last_; }

  // Offset of the first byte of the token just reported, found by skipping whitespace and
  // structural characters after the end of the previous event.
  std::size_t TokenStart() const {
    std::size_t i = last_end_;
    while (i < text_.size() && IsSkippable(text_[i])) ++i;
    return i;
  }

  bool AddNumber() {
    // The lexer reads one byte past a number (and puts it back), unless the input ended.
    std::size_t end = std::min(*pulled_, text_.size());
    while (end > 0 && !IsNumberChar(text_[end - 1])) --end;
    std::size_t start = end;
    while (start > 0 && IsNumberChar(text_[start - 1])) --start;
    bool ok = AddScalar(Kind::kNumber, std::string(text_.substr(start, end - start)), start);
    last_end_ = end;
    return ok;
  }

  bool AddScalar(Kind kind, std::string text, std::size_t start) {
    auto v = std::make_unique<Value>();
    v->kind_ = kind;
    v->text_ = std::move(text);
    v->location_ = lines_.At(start);
    last_ = v.get();
    last_end_ = *pulled_;
    return Attach(std::move(v));
  }

  bool Open(Kind kind) {
    std::size_t start = *pulled_ > 0 ? *pulled_ - 1 : 0;
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      return Fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels", start);
    }
    auto v = std::make_unique<Value>();
    v->kind_ = kind;
    v->location_ = lines_.At(start);
    Value* raw = v.get();
    last_end_ = *pulled_;
    if (!Attach(std::move(v))) return false;
    stack_.push_back(Frame{raw, {}});
    return true;
  }

  bool Close() {
    stack_.pop_back();
    last_end_ = *pulled_;
    return true;
  }

  bool Attach(std::unique_ptr<Value> v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Value* parent = stack_.back().value;
    if (parent->kind_ == Kind::kArray) {
      parent->items_.push_back(std::move(v));
    } else {
      parent->members_.back().value = std::move(v);
    }
    return true;
  }

  bool Fail(std::string message, std::size_t offset) {
    if (!error_) {
      error_ = std::make_unique<Error>(ErrorCode::kInvalidArgument, std::move(message), "",
                                       lines_.At(std::min(offset, text_.size())));
    }
    return false;
  }

  std::string_view text_;
  const Limits& limits_;
  const LineIndex& lines_;
  const std::size_t* pulled_;
  std::size_t last_end_ = 0;
  Value* last_ = nullptr;
  std::unique_ptr<Value> root_;
  std::vector<Frame> stack_;
  std::unique_ptr<Error> error_;
};

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return "array";
    case Kind::kObject:
      return "object";
  }
  return "value";
}

const Value* Value::Find(std::string_view name) const {
  for (const Member& m : members_) {
    if (m.name == name) return m.value.get();
  }
  return nullptr;
}

void AppendQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string Value::ToJson() const {
  std::string out;
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
    case Kind::kNumber:
      return text_;
    case Kind::kString:
      AppendQuoted(out, text_);
      return out;
    case Kind::kArray:
      out += '[';
      for (std::size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out += ',';
        out += items_[i]->ToJson();
      }
      out += ']';
      return out;
    case Kind::kObject:
      out += '{';
      for (std::size_t i = 0; i < members_.size(); ++i) {
        if (i > 0) out += ',';
        AppendQuoted(out, members_[i].name);
        out += ':';
        out += members_[i].value->ToJson();
      }
      out += '}';
      return out;
  }
  return out;
}

Result<std::unique_ptr<Value>> Parse(std::string_view text, const Limits& limits, int first_line) {
  if (text.size() > limits.max_bytes) {
    return Error(ErrorCode::kLimitExceeded, "input of " + std::to_string(text.size()) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(limits.max_bytes) + " bytes");
  }
  LineIndex lines(text, first_line);
  std::size_t pulled = 0;
  TreeBuilder builder(text, limits, lines, &pulled);
  CountingIterator begin(text.data(), text.data(), &pulled);
  CountingIterator end(text.data() + text.size(), text.data(), nullptr);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(begin, end, &builder, nlohmann::json::input_format_t::json,
                                   /*strict=*/true);
  } catch (const std::exception& e) {  // defensive: the SAX interface reports, not throws
    return Error(ErrorCode::kInvalidArgument, std::string("invalid JSON: ") + e.what());
  }
  if (builder.error()) return *builder.error();
  if (!ok) return Error(ErrorCode::kInvalidArgument, "invalid JSON");
  auto root = builder.TakeRoot();
  if (!root) return Error(ErrorCode::kInvalidArgument, "invalid JSON: empty input");
  return root;
}

}  // namespace xrole::json
