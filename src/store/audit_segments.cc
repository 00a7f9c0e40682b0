#include "store/audit_segments.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "common/json_writer.h"

namespace xrole::store {
namespace {

constexpr std::string_view kPrefix = "audit-";
constexpr std::string_view kSuffix = ".jsonl";
constexpr std::size_t kSeqDigits = 20;
constexpr std::string_view kEventKey = ",\"event\":";

std::string Quoted(std::string_view text) { return "`" + std::string(text) + "`"; }

Error SystemError(std::string_view operation, const std::string& path) {
  return Error(ErrorCode::kUnavailable,
               std::string(operation) + " " + Quoted(path) + ": " + std::strerror(errno));
}

// The first seq encoded in a segment's file name, or nullopt for any other name.
std::optional<std::int64_t> SegmentFirstSeq(std::string_view name) {
  if (name.size() != kPrefix.size() + kSeqDigits + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(kPrefix.size(), kSeqDigits);
  std::int64_t seq = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (error != std::errc() || end != digits.data() + digits.size() || seq < 1) return std::nullopt;
  return seq;
}

std::string SegmentName(std::int64_t first_seq) {
  char name[64];
  std::snprintf(name, sizeof name, "audit-%020lld.jsonl", static_cast<long long>(first_seq));
  return name;
}

// Reads bytes [offset, offset + length) of `fd`.
Result<std::string> ReadRange(int fd, std::int64_t offset, std::int64_t length,
                              const std::string& path) {
  std::string bytes(static_cast<std::size_t>(length), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::pread(fd, bytes.data() + done, bytes.size() - done,
                          static_cast<off_t>(offset + static_cast<std::int64_t>(done)));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return SystemError("read", path);
    if (got == 0) break;  // the file is shorter than expected: read what is there
    done += static_cast<std::size_t>(got);
  }
  bytes.resize(done);
  return bytes;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Where the line ending at text[newline] starts: after the newline before it, or at 0. (rfind
// from npos when newline is 0 would find text[0] itself, and the line would end before it began.)
std::size_t LineStartBefore(std::string_view text, std::size_t newline) {
  std::size_t previous = newline == 0 ? std::string_view::npos : text.rfind('\n', newline - 1);
  return previous == std::string_view::npos ? 0 : previous + 1;
}

// The seq of a line in xrole's layout, read without parsing the rest; nullopt otherwise.
std::optional<std::int64_t> LeadingSeq(std::string_view line) {
  constexpr std::string_view kSeqKey = "{\"seq\":";
  if (!line.starts_with(kSeqKey)) return std::nullopt;
  std::int64_t seq = 0;
  const char* begin = line.data() + kSeqKey.size();
  auto [end, error] = std::from_chars(begin, line.data() + line.size(), seq);
  if (error != std::errc() || end == begin || end == line.data() + line.size() || *end != ',') {
    return std::nullopt;
  }
  return seq;
}

// `line_no`: the line's number in its file, 0 for the last line.
Result<AuditRow> ParseLine(std::string_view line, const std::string& path, std::int64_t line_no) {
  auto bad = [&](std::string_view why) {
    std::string where = line_no > 0 ? "line " + std::to_string(line_no) : "last line";
    return Error(ErrorCode::kInternal,
                 "audit segment " + Quoted(path) + " " + where + ": " + std::string(why));
  };
  nlohmann::json value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return bad("not valid JSON");
  if (!value.is_object()) return bad("not a JSON object");
  auto integer = [&](const char* key) -> const nlohmann::json* {
    auto found = value.find(key);
    return found != value.end() && found->is_number_integer() ? &*found : nullptr;
  };
  auto text = [&](const char* key) -> const nlohmann::json* {
    auto found = value.find(key);
    return found != value.end() && found->is_string() ? &*found : nullptr;
  };
  const nlohmann::json* seq = integer("seq");
  const nlohmann::json* time = integer("time");
  const nlohmann::json* type = text("type");
  const nlohmann::json* prev_hash = text("prevHash");
  const nlohmann::json* hash = text("hash");
  auto event = value.find("event");
  if (seq == nullptr || time == nullptr || type == nullptr || prev_hash == nullptr ||
      hash == nullptr || event == value.end() || !event->is_object()) {
    return bad(
        "expected integers `seq`, `time`, strings `type`, `prevHash`, `hash` and an object "
        "`event`");
  }
  // The body is the stored text of `event`, byte for byte: the last member in xrole's layout.
  std::size_t at = line.find(kEventKey);
  if (at == std::string_view::npos || line.back() != '}') {
    return bad("`event` is not the last member");
  }
  AuditRow row;
  row.seq = seq->get<std::int64_t>();
  row.time_ms = time->get<std::int64_t>();
  row.type = type->get<std::string>();
  row.prev_hash = prev_hash->get<std::string>();
  row.hash = hash->get<std::string>();
  std::size_t body_start = at + kEventKey.size();
  row.body = std::string(line.substr(body_start, line.size() - 1 - body_start));
  return row;
}

}  // namespace

std::string SegmentLine(const AuditRow& row) {
  std::string line;
  AppendSegmentLine(line, row);
  return line;
}

void AppendSegmentLine(std::string& line, const AuditRow& row) {
  line += "{\"seq\":";
  line += std::to_string(row.seq);
  line += ",\"time\":";
  line += std::to_string(row.time_ms);
  line += ",\"type\":";
  json::AppendAsciiQuoted(line, row.type);
  line += ",\"prevHash\":";
  json::AppendAsciiQuoted(line, row.prev_hash);
  line += ",\"hash\":";
  json::AppendAsciiQuoted(line, row.hash);
  line += kEventKey;
  line += row.body;
  line += '}';
}

Result<std::unique_ptr<AuditSegments>> AuditSegments::Open(std::string directory, bool full_sync,
                                                           std::int64_t segment_bytes) {
  std::unique_ptr<AuditSegments> segments(
      new AuditSegments(std::move(directory), full_sync, segment_bytes));
  XROLE_RETURN_IF_ERROR(segments->Load());
  return segments;
}

AuditSegments::~AuditSegments() {
  if (fd_ >= 0) ::close(fd_);
}

Status AuditSegments::Load() {
  if (::mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST) {
    return SystemError("create directory", directory_);
  }
  DIR* dir = ::opendir(directory_.c_str());
  if (dir == nullptr) return SystemError("open directory", directory_);
  while (const dirent* entry = ::readdir(dir)) {
    std::optional<std::int64_t> first_seq = SegmentFirstSeq(entry->d_name);
    if (!first_seq) continue;
    Segment segment{*first_seq, directory_ + "/" + entry->d_name, 0};
    struct stat info {};
    if (::stat(segment.path.c_str(), &info) != 0) {
      Error error = SystemError("stat", segment.path);
      ::closedir(dir);
      return error;
    }
    segment.size = info.st_size;
    segments_.push_back(std::move(segment));
  }
  ::closedir(dir);
  std::sort(segments_.begin(), segments_.end(),
            [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });

  // Only the last file can end in a cut-short write; segments holding no whole line are left
  // out (the next append rewrites the file of that name).
  while (!segments_.empty()) {
    Segment& last = segments_.back();
    Fd fd(::open(last.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return SystemError("open", last.path);
    // Lines are short; read backwards in growing windows until a newline is in view.
    std::int64_t window = 1 << 16;
    std::string tail;
    std::int64_t tail_start = 0;
    std::size_t newline = std::string::npos;
    while (true) {
      tail_start = std::max<std::int64_t>(0, last.size - window);
      XROLE_ASSIGN_OR_RETURN(tail,
                             ReadRange(fd.get(), tail_start, last.size - tail_start, last.path));
      newline = tail.rfind('\n');
      if (newline != std::string::npos || tail_start == 0) break;
      window *= 4;
    }
    if (newline == std::string::npos) {
      segments_.pop_back();
      continue;
    }
    last.size = tail_start + static_cast<std::int64_t>(newline) + 1;
    std::size_t line_start = LineStartBefore(tail, newline);
    if (line_start == 0 && tail_start > 0) {
      // The last line is longer than the window: read it whole.
      XROLE_ASSIGN_OR_RETURN(tail, ReadRange(fd.get(), 0, last.size, last.path));
      if (static_cast<std::int64_t>(tail.size()) != last.size || tail.back() != '\n') {
        return Error(ErrorCode::kUnavailable,
                     "audit segment " + Quoted(last.path) + " changed while it was read");
      }
      tail_start = 0;
      newline = tail.size() - 1;
      line_start = LineStartBefore(tail, newline);
    }
    std::string_view line(tail.data() + line_start, newline - line_start);
    // The line number is not known without reading the whole file; 0 reads "last line".
    XROLE_ASSIGN_OR_RETURN(AuditRow row, ParseLine(line, last.path, 0));
    last_row_ = std::move(row);
    break;
  }
  return OkStatus();
}

std::int64_t AuditSegments::last_seq() const {
  std::lock_guard lock(mutex_);
  return last_row_ ? last_row_->seq : 0;
}

Status AuditSegments::StartSegment(std::int64_t first_seq) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  std::string path = directory_ + "/" + SegmentName(first_seq);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return SystemError("create", path);
  // A file of this name can only hold the start of a line cut short by a crash (its first seq
  // is past the chain's end), which is dropped. A whole line means the files are not what the
  // chain says: refuse rather than overwrite it (the caller fails closed).
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    Error error = SystemError("stat", path);
    ::close(fd);
    return error;
  }
  if (info.st_size > 0) {
    Result<std::string> existing = ReadRange(fd, 0, info.st_size, path);
    if (!existing.ok() || existing->find('\n') != std::string::npos) {
      ::close(fd);
      if (!existing.ok()) return existing.error();
      return Error(ErrorCode::kInternal,
                   "audit segment " + Quoted(path) + " already holds records, though the chain " +
                       "ends before record " + std::to_string(first_seq) +
                       "; not overwriting it (run `xrole audit verify --offline`)");
    }
  }
  // Only when needed: on ext4 a truncation to size 0 makes the file's close() flush all of its
  // dirty pages (auto_da_alloc), which on rollover stalled the audit writer for tens of ms.
  if (info.st_size > 0 && ::ftruncate(fd, 0) != 0) {
    Error error = SystemError("truncate", path);
    ::close(fd);
    return error;
  }
  if (full_sync_) {
    Fd dir(::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
      Error error = SystemError("sync directory", directory_);
      ::close(fd);
      ::unlink(path.c_str());
      return error;
    }
  }
  fd_ = fd;
  writeback_from_ = 0;
  std::lock_guard lock(mutex_);
  segments_.push_back(Segment{first_seq, std::move(path), 0});
  return OkStatus();
}

Status AuditSegments::OpenForAppend() {
  const Segment& last = segments_.back();  // only this thread changes the list
  int fd = ::open(last.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return SystemError("open", last.path);
  // Drops whatever a write cut short by a crash left after the last newline (see StartSegment
  // for why a needless truncation is avoided).
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    Error error = SystemError("stat", last.path);
    ::close(fd);
    return error;
  }
  if (info.st_size != last.size && ::ftruncate(fd, static_cast<off_t>(last.size)) != 0) {
    Error error = SystemError("truncate", last.path);
    ::close(fd);
    return error;
  }
  fd_ = fd;
  writeback_from_ = last.size;
  return OkStatus();
}

Status AuditSegments::Append(const std::vector<AuditRow>& rows) {
  if (staged_) {
    return Error(ErrorCode::kInternal, "audit segments: append before the last one was settled");
  }
  if (rows.empty()) {
    staged_ = true;
    staged_new_segment_ = false;
    staged_end_ = segments_.empty() ? 0 : segments_.back().size;
    staged_last_.reset();
    return OkStatus();
  }
  std::int64_t previous = last_seq();
  std::string buffer;
  for (const AuditRow& row : rows) {
    if (row.seq <= previous) {
      return Error(ErrorCode::kConflict, "audit seq " + std::to_string(row.seq) + " is not after " +
                                             std::to_string(previous));
    }
    previous = row.seq;
    // A newline would end the line early (canonical JSON escapes every control character).
    if (row.body.size() < 2 || row.body.front() != '{' || row.body.back() != '}' ||
        row.body.find('\n') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument,
                   "audit row " + std::to_string(row.seq) + ": body is not a one-line JSON object");
    }
    AppendSegmentLine(buffer, row);
    buffer += '\n';
  }

  bool new_segment = segments_.empty() || segments_.back().size >= segment_bytes_;
  if (new_segment) {
    XROLE_RETURN_IF_ERROR(StartSegment(rows.front().seq));
  } else if (fd_ < 0) {
    XROLE_RETURN_IF_ERROR(OpenForAppend());
  }
  const Segment& segment = segments_.back();
  auto undo = [&](Error error) -> Status {
    (void)::ftruncate(fd_, static_cast<off_t>(segment.size));
    if (new_segment) {
      std::string path = segment.path;
      ::close(fd_);
      fd_ = -1;
      ::unlink(path.c_str());
      std::lock_guard lock(mutex_);
      segments_.pop_back();
    }
    return error;
  };
  std::size_t written = 0;
  while (written < buffer.size()) {
    ssize_t done = ::pwrite(fd_, buffer.data() + written, buffer.size() - written,
                            static_cast<off_t>(segment.size + static_cast<std::int64_t>(written)));
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) return undo(SystemError("write", segment.path));
    written += static_cast<std::size_t>(done);
  }
  if (full_sync_ && ::fdatasync(fd_) != 0) return undo(SystemError("sync", segment.path));
  const std::int64_t end = segment.size + static_cast<std::int64_t>(buffer.size());
  if (!full_sync_ && end - writeback_from_ >= kWritebackBytes) {
    // A request to the kernel, not a promise: its failure changes nothing already claimed.
    (void)::sync_file_range(fd_, writeback_from_, end - writeback_from_, SYNC_FILE_RANGE_WRITE);
    writeback_from_ = end;
  }
  staged_ = true;
  staged_new_segment_ = new_segment;
  staged_start_ = segment.size;
  staged_end_ = end;
  staged_last_ = rows.back();
  staged_first_seq_ = rows.front().seq;
  staged_lines_ = static_cast<std::int64_t>(rows.size());
  return OkStatus();
}

void AuditSegments::Publish() {
  if (!staged_) return;
  staged_ = false;
  if (!staged_last_) return;
  std::lock_guard lock(mutex_);
  Segment& segment = segments_.back();
  segment.size = staged_end_;
  last_row_ = std::move(staged_last_);
  staged_last_.reset();
  // A file this object started is indexed from its first append; another file once a read has
  // scanned it. The marks stay exact only while they reach the append's start.
  Index* index = nullptr;
  if (staged_new_segment_) {
    index = &indexes_[segment.path];
    *index = Index{};
  } else if (auto found = indexes_.find(segment.path); found != indexes_.end()) {
    index = &found->second;
  }
  if (index == nullptr || index->indexed_to != staged_start_) return;
  if (index->marks.empty() || staged_start_ - index->marks.back().offset >= kMarkBytes) {
    index->marks.push_back(Mark{staged_first_seq_, staged_start_, index->lines + 1});
  }
  index->indexed_to = staged_end_;
  index->lines += staged_lines_;
}

Status AuditSegments::Discard() {
  if (!staged_) return OkStatus();
  staged_ = false;
  if (!staged_last_) return OkStatus();
  staged_last_.reset();
  const Segment& segment = segments_.back();
  if (staged_new_segment_) {
    std::string path = segment.path;
    ::close(fd_);
    fd_ = -1;
    {
      std::lock_guard lock(mutex_);
      segments_.pop_back();
    }
    if (::unlink(path.c_str()) != 0) return SystemError("remove", path);
    return OkStatus();
  }
  writeback_from_ = std::min(writeback_from_, segment.size);
  if (::ftruncate(fd_, static_cast<off_t>(segment.size)) != 0) {
    return SystemError("truncate", segment.path);
  }
  return OkStatus();
}

void AuditSegments::SetPrunedThrough(std::int64_t through_seq) {
  std::lock_guard lock(mutex_);
  pruned_through_ = std::max(pruned_through_, through_seq);
}

Status AuditSegments::PruneThrough(std::int64_t through_seq) {
  SetPrunedThrough(through_seq);
  // File i holds seqs [first_seq(i), first_seq(i + 1)); the last file is always kept (appends go
  // there).
  while (true) {
    std::string path;
    {
      std::lock_guard lock(mutex_);
      if (segments_.size() < 2 || segments_[1].first_seq > through_seq + 1) break;
      path = segments_.front().path;
      segments_.erase(segments_.begin());
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return SystemError("remove", path);
    std::lock_guard lock(mutex_);
    indexes_.erase(path);
  }
  return OkStatus();
}

Result<std::vector<AuditRow>> AuditSegments::Read(std::int64_t after_seq, std::size_t limit) const {
  std::vector<Segment> segments;
  {
    std::lock_guard lock(mutex_);
    segments = segments_;
    after_seq = std::max(after_seq, pruned_through_);
  }
  // The last segment that can hold after_seq + 1; earlier ones only hold smaller seqs. (Written
  // as first_seq - 1, which cannot overflow: a first seq is above some seq, so above INT64_MIN;
  // after_seq + 1 overflows for after_seq = INT64_MAX, which `?after=` can ask for.)
  std::size_t first = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].first_seq - 1 <= after_seq) first = i;
  }
  std::vector<AuditRow> rows;
  for (std::size_t i = first; i < segments.size(); ++i) {
    const Segment& segment = segments[i];
    // Where to start: the last mark at or before the first wanted record (records are in seq
    // order within a file), else the beginning, and then index the file on the way.
    std::int64_t offset = 0;
    std::int64_t line_no = 1;  // of the line at `offset`
    bool build_index = false;
    {
      std::lock_guard lock(mutex_);
      auto found = indexes_.find(segment.path);
      if (found == indexes_.end()) {
        build_index = true;
      } else {
        for (const Mark& mark : found->second.marks) {
          if (mark.seq - 1 > after_seq || mark.offset >= segment.size) break;
          offset = mark.offset;
          line_no = mark.line;
        }
      }
    }
    Index built;
    Fd fd(::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return SystemError("open", segment.path);
    constexpr std::int64_t kChunk = 1 << 20;
    std::string carry;  // the start of a line cut by the chunk's end
    std::int64_t carry_offset = offset;
    bool full = false;  // `limit` rows read; only indexing goes on
    while (offset < segment.size && !(full && !build_index)) {
      XROLE_ASSIGN_OR_RETURN(
          std::string chunk,
          ReadRange(fd.get(), offset, std::min(kChunk, segment.size - offset), segment.path));
      if (chunk.empty()) break;  // truncated behind our back: read what is whole
      offset += static_cast<std::int64_t>(chunk.size());
      carry += chunk;
      std::string_view rest(carry);
      std::int64_t line_offset = carry_offset;
      while (true) {
        std::size_t end = rest.find('\n');
        if (end == std::string_view::npos) break;
        std::string_view line = rest.substr(0, end);
        rest.remove_prefix(end + 1);
        const std::int64_t this_offset = line_offset;
        const std::int64_t this_line = line_no;
        line_offset += static_cast<std::int64_t>(end) + 1;
        ++line_no;
        std::optional<std::int64_t> seq = LeadingSeq(line);
        if (build_index && seq &&
            (built.marks.empty() || this_offset - built.marks.back().offset >= kMarkBytes)) {
          built.marks.push_back(Mark{*seq, this_offset, this_line});
        }
        if (full || (seq && *seq <= after_seq)) continue;
        XROLE_ASSIGN_OR_RETURN(AuditRow row, ParseLine(line, segment.path, this_line));
        if (row.seq <= after_seq) continue;
        rows.push_back(std::move(row));
        full = limit != 0 && rows.size() >= limit;
      }
      carry_offset = line_offset;
      carry.erase(0, carry.size() - rest.size());
    }
    if (build_index && carry.empty() && offset == segment.size) {
      built.indexed_to = segment.size;
      built.lines = line_no - 1;
      std::lock_guard lock(mutex_);
      indexes_.emplace(segment.path, std::move(built));  // unless another read was first
    }
    if (full) return rows;
  }
  return rows;
}

Result<std::optional<AuditRow>> AuditSegments::Last() const {
  std::lock_guard lock(mutex_);
  return last_row_;
}

}  // namespace xrole::store
