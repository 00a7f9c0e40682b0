// json_writer.h: a streaming writer of compact JSON for hot paths (decision answers, audit
// records) where building a DOM only to serialise it costs more than the work itself.
//
// Contract: the output is byte-identical to nlohmann/json's `dump(-1, ' ', /*ensure_ascii=*/true)`
// of the same value, provided the caller writes object members in ascending byte order of their
// keys (what nlohmann's std::map ordering produces) and writes only strings, integers, booleans
// and nulls. Strings must be valid UTF-8: anything else is written as U+FFFD and clears ok(), so
// a caller that needs nlohmann's exact replacement behaviour can fall back to it. The writer
// does not check nesting: callers pair Begin/End themselves.
#ifndef XROLE_COMMON_JSON_WRITER_H_
#define XROLE_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace xrole::json {

class Writer {
 public:
  Writer() = default;
  explicit Writer(std::size_t reserve) { out_.reserve(reserve); }

  Writer& BeginObject();
  Writer& EndObject();
  Writer& BeginArray();
  Writer& EndArray();
  Writer& Key(std::string_view key);
  Writer& String(std::string_view value);
  Writer& Int(std::int64_t value);
  Writer& Bool(bool value);
  Writer& Null();
  // `json` must be one complete JSON value in the same encoding (e.g. another Writer's output).
  Writer& Raw(std::string_view json);

  // Key(key).String(value) / .Int(value).
  Writer& Field(std::string_view key, std::string_view value) { return Key(key).String(value); }
  Writer& Field(std::string_view key, const char* value) { return Key(key).String(value); }
  Writer& Field(std::string_view key, std::int64_t value) { return Key(key).Int(value); }
  Writer& Field(std::string_view key, int value) { return Key(key).Int(value); }
  // Field(key, value) unless `value` is empty.
  Writer& FieldIfSet(std::string_view key, std::string_view value) {
    return value.empty() ? *this : Field(key, value);
  }

  // False if a string was not valid UTF-8 (it was written with U+FFFD in place of bad bytes).
  bool ok() const { return ok_; }
  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Separate();

  std::string out_;
  bool need_comma_ = false;
  bool ok_ = true;
};

// Appends `value` as a JSON string literal escaped as nlohmann's ensure_ascii dump does. Returns
// false (after writing U+FFFD for the bad bytes) if `value` is not valid UTF-8.
bool AppendAsciiQuoted(std::string& out, std::string_view value);

}  // namespace xrole::json

#endif  // XROLE_COMMON_JSON_WRITER_H_
