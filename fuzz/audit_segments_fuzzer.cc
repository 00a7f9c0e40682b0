// audit_segments_fuzzer: the audit segment files (src/store/audit_segments.h) on arbitrary input.
// They are plain files in the data directory, so any bytes may be in them: opening and reading
// them must never crash, hang or be undefined behaviour (a bad line is an error value). Per input:
//
//  1. The input is written as segment file `audit-00000000000000000001.jsonl` (if it holds a
//     0x1E byte, only the bytes before it; the byte after it picks the first seq, 2..257, of a
//     second file holding the rest). The directory is opened; Read from 0 and from a seq taken
//     from the input's last bytes (or INT64_MAX, INT64_MIN, last_seq - 1 as its last byte % 8
//     is 5, 6, 7), Last and last_seq may each fail but must not crash. Then a well-formed row
//     after last_seq is appended (into a new file, when a byte from the input says segments hold
//     one byte) and discarded (last_seq must not move), appended again and published: Last must
//     then be that row, and reading and reopening must not crash.
//  2. Round trip: a row built from the input (seq >= 1, any time, `type`, `prevHash` and `hash`
//     any bytes, the body a one-line JSON object) is appended to an empty directory, published,
//     read back, and read again by a fresh Open. seq, time and body come back equal; each string
//     comes back as the input with every byte that does not begin a well-formed UTF-8 sequence
//     replaced by U+FFFD (what json::AppendAsciiQuoted writes), so unchanged when valid UTF-8.
//
// Any violated property aborts. UBSan is made fatal here (see __ubsan_default_options) because
// the libraries are built with recoverable checks, which would otherwise only print.
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "store/audit_segments.h"
#include "store/store.h"

extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

namespace {

using xrole::store::AuditRow;
using xrole::store::AuditSegments;

constexpr char kSeparator = '\x1e';

bool Equal(const AuditRow& a, const AuditRow& b) {
  return a.seq == b.seq && a.time_ms == b.time_ms && a.type == b.type && a.body == b.body &&
         a.prev_hash == b.prev_hash && a.hash == b.hash;
}

// A fresh directory under /tmp, removed with everything in it when this goes out of scope.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/audit_segments_fuzzer.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, std::string_view bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
    std::abort();
  }
  if (std::fclose(file) != 0) std::abort();
}

std::string SegmentPath(const std::string& directory, std::int64_t first_seq) {
  char name[64];
  std::snprintf(name, sizeof name, "/audit-%020lld.jsonl", static_cast<long long>(first_seq));
  return directory + name;
}

// The length of the well-formed UTF-8 sequence at s[i] (Unicode 15, table 3-7), 0 if none.
std::size_t WellFormedLength(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) -> int {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : -1;
  };
  auto in = [](int byte, int low, int high) { return byte >= low && byte <= high; };
  const int lead = at(0);
  if (in(lead, 0x00, 0x7F)) return 1;
  if (in(lead, 0xC2, 0xDF)) return in(at(1), 0x80, 0xBF) ? 2 : 0;
  int second_low = 0x80;
  int second_high = 0xBF;
  std::size_t length = 0;
  if (in(lead, 0xE0, 0xEF)) {
    length = 3;
    if (lead == 0xE0) second_low = 0xA0;
    if (lead == 0xED) second_high = 0x9F;
  } else if (in(lead, 0xF0, 0xF4)) {
    length = 4;
    if (lead == 0xF0) second_low = 0x90;
    if (lead == 0xF4) second_high = 0x8F;
  } else {
    return 0;
  }
  if (!in(at(1), second_low, second_high)) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (!in(at(k), 0x80, 0xBF)) return 0;
  }
  return length;
}

// `text` with every byte that does not begin a well-formed UTF-8 sequence replaced by U+FFFD.
std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = WellFormedLength(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

// 1. Arbitrary bytes as segment files.
void ReadArbitraryFiles(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Integers come from the end of the input: the last byte picks how `after` is chosen.
  FuzzedDataProvider provider(data, size);
  const int after_kind = provider.ConsumeIntegralInRange<int>(0, 7);
  const std::int64_t raw_after = provider.ConsumeIntegral<std::int64_t>();
  const std::size_t limit = provider.ConsumeIntegralInRange<std::size_t>(1, 4);
  const std::int64_t segment_bytes = provider.ConsumeBool() ? 1 : AuditSegments::kSegmentBytes;

  TempDir directory;
  std::size_t separator = input.find(kSeparator);
  WriteFile(SegmentPath(directory.path(), 1), input.substr(0, separator));
  if (separator != std::string_view::npos) {
    std::string_view rest = input.substr(separator + 1);
    std::int64_t first_seq = 2;
    if (!rest.empty()) {
      first_seq += static_cast<unsigned char>(rest.front());
      rest.remove_prefix(1);
    }
    WriteFile(SegmentPath(directory.path(), first_seq), rest);
  }

  auto opened = AuditSegments::Open(directory.path(), /*full_sync=*/false, segment_bytes);
  if (!opened.ok()) return;
  AuditSegments& segments = **opened;
  const std::int64_t last_seq = segments.last_seq();
  std::int64_t after = raw_after;
  if (after_kind == 5) after = std::numeric_limits<std::int64_t>::max();
  if (after_kind == 6) after = std::numeric_limits<std::int64_t>::min();
  if (after_kind == 7 && last_seq > std::numeric_limits<std::int64_t>::min()) after = last_seq - 1;
  (void)segments.Read(0, 0);
  (void)segments.Read(after, limit);
  auto last = segments.Last();
  if (last.ok() && (*last ? (*last)->seq : 0) != last_seq) std::abort();
  if (last_seq == std::numeric_limits<std::int64_t>::max()) return;  // no seq can follow

  AuditRow row;
  row.seq = last_seq + 1;
  row.time_ms = 1;
  row.type = "fuzz";
  row.body = R"({"n":1})";
  row.prev_hash = last.ok() && *last ? (*last)->hash : "";
  row.hash = "h";
  if (!segments.Append({row}).ok()) return;
  if (!segments.Discard().ok()) return;
  if (segments.last_seq() != last_seq) std::abort();
  if (!segments.Append({row}).ok()) return;
  segments.Publish();
  auto appended = segments.Last();
  if (!appended.ok() || !*appended || !Equal(**appended, row)) std::abort();
  if (segments.last_seq() != row.seq) std::abort();
  (void)segments.Read(0, 0);
  (void)segments.Read(last_seq, 1);

  auto reopened = AuditSegments::Open(directory.path(), /*full_sync=*/false, segment_bytes);
  if (reopened.ok()) (void)(*reopened)->Read(0, 0);
}

// 2. A row of arbitrary strings comes back as written.
void RoundTrip(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  AuditRow row;
  row.seq =
      provider.ConsumeIntegralInRange<std::int64_t>(1, std::numeric_limits<std::int64_t>::max());
  row.time_ms = provider.ConsumeIntegral<std::int64_t>();
  const bool verbatim_body = provider.ConsumeBool();
  row.type = provider.ConsumeRandomLengthString(size);
  row.prev_hash = provider.ConsumeRandomLengthString(size);
  row.hash = provider.ConsumeRandomLengthString(size);
  std::string rest = provider.ConsumeRemainingBytesAsString();
  // Either the rest of the input itself, when it is a one-line JSON object, or a canonical body
  // holding it as a string.
  if (verbatim_body && rest.size() >= 2 && rest.front() == '{' && rest.back() == '}' &&
      rest.find('\n') == std::string::npos && nlohmann::json::accept(rest)) {
    row.body = rest;
  } else {
    nlohmann::json body = {{"a", rest}};
    row.body = body.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  }

  // The line is one line, and everything before the body is printable ASCII.
  const std::string line = xrole::store::SegmentLine(row);
  if (line.find('\n') != std::string::npos || line.size() < row.body.size() + 1) std::abort();
  for (std::size_t i = 0; i + row.body.size() + 1 < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if (c < 0x20 || c >= 0x7F) std::abort();
  }

  TempDir directory;
  auto opened = AuditSegments::Open(directory.path(), /*full_sync=*/false);
  if (!opened.ok()) std::abort();
  AuditSegments& segments = **opened;
  if (segments.last_seq() != 0) std::abort();
  if (!segments.Append({row}).ok()) std::abort();
  segments.Publish();

  AuditRow expected = row;
  expected.type = ReplaceInvalidUtf8(row.type);
  expected.prev_hash = ReplaceInvalidUtf8(row.prev_hash);
  expected.hash = ReplaceInvalidUtf8(row.hash);
  auto read = segments.Read(0, 0);
  if (!read.ok() || read->size() != 1 || !Equal(read->front(), expected)) std::abort();
  auto from = segments.Read(row.seq - 1, 1);
  if (!from.ok() || from->size() != 1 || !Equal(from->front(), expected)) std::abort();
  auto after = segments.Read(row.seq, 0);
  if (!after.ok() || !after->empty()) std::abort();

  auto reopened = AuditSegments::Open(directory.path(), /*full_sync=*/false);
  if (!reopened.ok()) std::abort();
  if ((*reopened)->last_seq() != row.seq) std::abort();
  auto last = (*reopened)->Last();
  if (!last.ok() || !*last || !Equal(**last, expected)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ReadArbitraryFiles(data, size);
  RoundTrip(data, size);
  return 0;
}
