// audit_segments.h: the part of the audit chain kept in append-only segment files beside the
// SQLite database. The SQLite store puts the records of a batch that changes no state (the
// decisions: most of the chain under load) here instead of in `audit_log`: one `pwrite` per
// batch, each record written once, where a SQLite transaction rewrites the database header, the
// b-tree's interior page and the last leaf into the WAL and copies them again at every WAL
// checkpoint. Records that come with state changes stay in `audit_log`, in the transaction of
// their change; the chain is the union of both, ordered by seq.
//
// Layout: directory `<database>-audit` (mode 0700) holding files `audit-<first seq, 20
// digits>.jsonl` (mode 0600), each at most about `kSegmentBytes`, one record per line:
//
//   {"seq":N,"time":T,"type":"TYPE","prevHash":"H","hash":"H","event":BODY}
//
// with BODY the record's canonical body verbatim (so a line is valid JSON, and the files are
// the export format: scripts/audit_verify.py verifies them as they are). A line is a record
// only once its newline is written: bytes after the last newline of the last file are a write
// cut short by a crash, ignored when reading and overwritten by the next append.
//
// Durability: an appended batch is in the OS page cache when Append returns (it survives the
// process being killed); with `full_sync` it is also fdatasync'ed (power loss).
//
// Thread safety: one writer (Append/Publish/Discard, serialised by the caller) and any number of
// concurrent readers, which see published batches only.
#ifndef XROLE_STORE_AUDIT_SEGMENTS_H_
#define XROLE_STORE_AUDIT_SEGMENTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"
#include "xrole/status.h"

namespace xrole::store {

class AuditSegments {
 public:
  // A new segment is started by the first append after the current one reaches this size.
  static constexpr std::int64_t kSegmentBytes = 64 << 20;
  // Without full_sync, the kernel is asked to start writing back each this many appended bytes
  // (sync_file_range, without waiting for it), as RocksDB's bytes_per_sync: the log's dirty
  // pages stay a few MB instead of piling up in the page cache (to 1.2 GB within a minute at
  // 50,000 decisions/s, with the kernel's default 30 s expiry) and being written in bursts, and
  // a sustained load never nears the dirty limit at which the kernel throttles the writer.
  // Durability is unchanged: nothing more is claimed of the disk.
  static constexpr std::int64_t kWritebackBytes = 1 << 20;

  // Opens `directory`, creating it if missing. Reads nothing but each file's size and the last
  // line of the last file. Never changes a file (a reader beside a running server may open it).
  static Result<std::unique_ptr<AuditSegments>> Open(std::string directory, bool full_sync,
                                                     std::int64_t segment_bytes = kSegmentBytes);
  ~AuditSegments();

  AuditSegments(const AuditSegments&) = delete;
  AuditSegments& operator=(const AuditSegments&) = delete;

  // The highest published seq, 0 when there are no records.
  std::int64_t last_seq() const;

  // Writes `rows` (seqs ascending, each body one line of JSON) after the last record, not yet
  // visible to readers. Then exactly one of Publish (readers see them) or Discard (the bytes are
  // cut off again, as if never written) must follow before the next Append. On error nothing is
  // left behind.
  Status Append(const std::vector<AuditRow>& rows);
  void Publish();
  Status Discard();

  // Retention: from now on reads skip records with seq <= through_seq, and files holding only
  // such records are deleted (a file is kept while it holds a later record). Writer only.
  // The skipping holds for this object; the caller persists through_seq and passes it to
  // SetPrunedThrough after the next Open.
  Status PruneThrough(std::int64_t through_seq);
  void SetPrunedThrough(std::int64_t through_seq);

  // Published records with seq > after_seq, in order, at most `limit` (0: no limit). A line
  // that is not a record in the layout above is an error naming its file and line.
  Result<std::vector<AuditRow>> Read(std::int64_t after_seq, std::size_t limit) const;
  Result<std::optional<AuditRow>> Last() const;

  const std::string& directory() const { return directory_; }

 private:
  struct Segment {
    std::int64_t first_seq = 0;
    std::string path;
    std::int64_t size = 0;  // published bytes, ending in a newline
  };

  AuditSegments(std::string directory, bool full_sync, std::int64_t segment_bytes)
      : directory_(std::move(directory)), full_sync_(full_sync), segment_bytes_(segment_bytes) {}
  Status Load();
  Status StartSegment(std::int64_t first_seq);
  Status OpenForAppend();

  const std::string directory_;
  const bool full_sync_;
  const std::int64_t segment_bytes_;

  // A sparse index of a segment, so that a read after some seq (paging through the log, `audit
  // tail`) starts near it instead of at the file's beginning: the line at `offset` holds record
  // `seq` and is line `line` of its file. About one mark per kMarkBytes. A file's marks are made
  // by the first read that scans it from its beginning, and extended by appends while they
  // cover the whole file (`indexed_to`, `lines`: how far, and how many lines up to there).
  struct Mark {
    std::int64_t seq;
    std::int64_t offset;
    std::int64_t line;
  };
  struct Index {
    std::vector<Mark> marks;
    std::int64_t indexed_to = 0;
    std::int64_t lines = 0;
  };
  static constexpr std::int64_t kMarkBytes = 1 << 16;
  mutable std::map<std::string, Index> indexes_;  // by path; guarded by mutex_

  mutable std::mutex mutex_;  // guards segments_, last_row_ and pruned_through_
  std::vector<Segment> segments_;
  std::optional<AuditRow> last_row_;
  std::int64_t pruned_through_ = 0;

  // Writer only.
  int fd_ = -1;                      // the last segment, opened by the first append
  std::int64_t writeback_from_ = 0;  // offset in fd_ from which writeback is not yet started
  std::int64_t staged_end_ = 0;      // end of the staged (unpublished) append in the last segment
  std::optional<AuditRow> staged_last_;
  std::int64_t staged_start_ = 0;  // offset of the staged append's first line
  std::int64_t staged_first_seq_ = 0;
  std::int64_t staged_lines_ = 0;
  bool staged_new_segment_ = false;
  bool staged_ = false;
};

// The line of one record in a segment, without its newline (appended to `out`, or returned).
void AppendSegmentLine(std::string& out, const AuditRow& row);
std::string SegmentLine(const AuditRow& row);

}  // namespace xrole::store

#endif  // XROLE_STORE_AUDIT_SEGMENTS_H_
