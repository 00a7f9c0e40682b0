#include "common/json_writer.h"

#include <array>
#include <charconv>

namespace xrole::json {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendEscapedUnit(std::string& out, std::uint32_t unit) {
  out += "\\u";
  out += kHex[(unit >> 12) & 0xF];
  out += kHex[(unit >> 8) & 0xF];
  out += kHex[(unit >> 4) & 0xF];
  out += kHex[unit & 0xF];
}

void AppendEscapedCodePoint(std::string& out, std::uint32_t code_point) {
  if (code_point <= 0xFFFF) {
    AppendEscapedUnit(out, code_point);
    return;
  }
  code_point -= 0x10000;
  AppendEscapedUnit(out, 0xD800 + (code_point >> 10));
  AppendEscapedUnit(out, 0xDC00 + (code_point & 0x3FF));
}

// Decodes one UTF-8 sequence starting at `s[i]` (a byte >= 0x80). Returns its length, or 0 if
// it is not a well-formed sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
std::size_t DecodeUtf8(std::string_view s, std::size_t i, std::uint32_t* code_point) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  std::uint32_t value = 0;
  std::uint32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, value = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, value = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, value = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const unsigned char next = byte(i + k);
    if ((next & 0xC0) != 0x80) return 0;
    value = (value << 6) | (next & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *code_point = value;
  return length;
}

// A printable ASCII character that JSON writes as itself.
constexpr bool IsPlainAscii(unsigned char c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

}  // namespace

bool AppendAsciiQuoted(std::string& out, std::string_view value) {
  bool valid = true;
  out += '"';
  std::size_t i = 0;
  while (i < value.size()) {
    // Runs of characters that stand for themselves are copied in one append.
    std::size_t plain_end = i;
    while (plain_end < value.size() && IsPlainAscii(static_cast<unsigned char>(value[plain_end]))) {
      ++plain_end;
    }
    if (plain_end != i) {
      out.append(value.data() + i, plain_end - i);
      i = plain_end;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      std::uint32_t code_point = 0;
      const std::size_t length = DecodeUtf8(value, i, &code_point);
      if (length == 0) {
        valid = false;
        AppendEscapedUnit(out, 0xFFFD);
        ++i;
      } else {
        AppendEscapedCodePoint(out, code_point);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
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
        if (c < 0x20 || c == 0x7F) {
          AppendEscapedUnit(out, c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return valid;
}

void Writer::Separate() {
  if (need_comma_) out_ += ',';
}

Writer& Writer::BeginObject() {
  Separate();
  out_ += '{';
  need_comma_ = false;
  return *this;
}

Writer& Writer::EndObject() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}

Writer& Writer::BeginArray() {
  Separate();
  out_ += '[';
  need_comma_ = false;
  return *this;
}

Writer& Writer::EndArray() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}

Writer& Writer::Key(std::string_view key) {
  Separate();
  ok_ = AppendAsciiQuoted(out_, key) && ok_;
  out_ += ':';
  need_comma_ = false;
  return *this;
}

Writer& Writer::String(std::string_view value) {
  Separate();
  ok_ = AppendAsciiQuoted(out_, value) && ok_;
  need_comma_ = true;
  return *this;
}

Writer& Writer::Int(std::int64_t value) {
  Separate();
  std::array<char, 24> buffer;
  auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  (void)error;  // 24 characters always hold an int64
  out_.append(buffer.data(), end);
  need_comma_ = true;
  return *this;
}

Writer& Writer::Bool(bool value) {
  Separate();
  out_ += value ? "true" : "false";
  need_comma_ = true;
  return *this;
}

Writer& Writer::Null() {
  Separate();
  out_ += "null";
  need_comma_ = true;
  return *this;
}

Writer& Writer::Raw(std::string_view json) {
  Separate();
  out_ += json;
  need_comma_ = true;
  return *this;
}

}  // namespace xrole::json
