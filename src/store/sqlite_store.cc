// The SQLite backend of Store. One write connection (WAL, BEGIN IMMEDIATE per batch, prepared
// statements kept for the life of the store) guarded by its own mutex, and one read connection
// guarded by another: WAL readers see the last committed snapshot and never wait for a writer.
// The audit records of batches that change no state go to append-only segment files beside the
// database (audit_segments.h) unless SqliteOptions::audit_segments is off; the chain is read
// back as the union of both, by seq.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/thread_name.h"
#include "store/audit_segments.h"
#include "store/migrations.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace xrole::store {
namespace {

constexpr std::array kTables = {Table::kObjects,   Table::kRuns,       Table::kSessions,
                                Table::kApprovals, Table::kAccessKeys, Table::kSigningKeys,
                                Table::kMeta};
constexpr std::size_t kTableCount = kTables.size();

constexpr bool TablesAreInEnumOrder() {
  for (std::size_t i = 0; i < kTableCount; ++i) {
    if (static_cast<std::size_t>(kTables[i]) != i) return false;
  }
  return true;
}
static_assert(TablesAreInEnumOrder(), "kTables[i] must be the Table whose value is i");

// Busy handler of every connection. SQLite's own (busy_timeout) sleeps 1, 2, 5, 10 ms... between
// attempts, so a lock that another connection (the checkpointer, a reader, another process)
// holds for microseconds would cost a commit several milliseconds. This one
// retries every 50 µs for the first 20 ms, then every millisecond, and gives up after about 5 s
// as busy_timeout = 5000 did (the caller then sees SQLITE_BUSY: kUnavailable).
int RetrySoon(void*, int attempts) {
  constexpr int kFastAttempts = 400;                  // 400 × 50 µs = 20 ms
  constexpr int kMaxAttempts = kFastAttempts + 4980;  // then 1 ms each: 5 s in all
  if (attempts >= kMaxAttempts) return 0;
  if (attempts < kFastAttempts) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return 1;
}

// Index of `table` in kTables, or kTableCount for a value outside the enum.
std::size_t TableIndex(Table table) {
  auto index = static_cast<std::size_t>(table);
  return index < kTableCount ? index : kTableCount;
}

std::string Quoted(std::string_view text) { return "`" + std::string(text) + "`"; }

// An flock on a file, released with its descriptor.
class FileLock final : public AuditLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  ~FileLock() override { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

// flock(`operation`) on the file at `path`. False in `*busy` (and no lock) when LOCK_NB was
// asked and another holder conflicts.
Result<std::unique_ptr<AuditLock>> LockFile(const std::string& path, int operation, bool* busy) {
  *busy = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return Error(ErrorCode::kUnavailable,
                 "cannot open " + Quoted(path) + " to lock it: " + std::strerror(error));
  }
  int locked = 0;
  do {
    locked = ::flock(fd, operation);
  } while (locked != 0 && errno == EINTR);
  if (locked != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      *busy = true;
      return std::unique_ptr<AuditLock>();
    }
    return Error(ErrorCode::kUnavailable,
                 "cannot lock " + Quoted(path) + ": " + std::strerror(error));
  }
  return std::unique_ptr<AuditLock>(std::make_unique<FileLock>(fd));
}

// Creates the file with owner-only permissions before SQLite does (SQLite would use 0644 less
// the umask); SQLite gives its -wal and -shm files the database file's permissions.
Status CreateOwnerOnly(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error(ErrorCode::kUnavailable, std::strerror(errno));
  ::close(fd);
  return OkStatus();
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, const SqliteOptions& options)
      : path_(std::move(path)),
        // Debian's SQLite reads a name starting with "file:" as a URI; "./" keeps it a name.
        file_name_(path_.starts_with("file:") ? "./" + path_ : path_),
        full_sync_(options.full_sync),
        audit_segments_(options.audit_segments) {}

  ~SqliteStore() override { StopCheckpointer(); }

  Status Open();

  Status Commit(const Batch& batch) override;
  Result<std::vector<Entity>> LoadTable(Table table) override;
  Result<std::optional<std::string>> Get(Table table, std::string_view id) override;
  Result<std::vector<AuditRow>> ReadAudit(std::int64_t after_seq, std::size_t limit) override;
  Result<std::optional<AuditRow>> LastAudit() override;
  Result<std::vector<CheckpointRow>> ReadCheckpoints() override;
  Status PruneAudit(std::int64_t through_seq, const CheckpointRow& anchor) override;
  Result<std::unique_ptr<AuditLock>> ExcludeAuditReaders() override {
    bool busy = false;
    XROLE_ASSIGN_OR_RETURN(std::unique_ptr<AuditLock> lock,
                           LockFile(file_name_, LOCK_EX | LOCK_NB, &busy));
    if (busy) {
      return Error(ErrorCode::kUnavailable,
                   "another process is reading the audit log of " + Quoted(path_) +
                       " (`xrole audit verify --offline`); nothing was pruned: prune again "
                       "when it is done");
    }
    return lock;
  }
  Result<std::int64_t> AuditPrunedThrough() override {
    std::lock_guard lock(write_mutex_);
    return pruned_through_;
  }
  std::string Describe() const override {
    std::string options;
    if (full_sync_) options += "&sync=full";
    if (!audit_segments_) options += "&audit=table";
    if (!options.empty()) options[0] = '?';
    return "sqlite:" + path_ + options;
  }

 private:
  // Statements of the write connection (declared after it, so destroyed before it).
  struct Writer {
    sqlite::Connection connection;
    sqlite::Statement begin, commit, rollback;
    std::array<sqlite::Statement, kTableCount> upsert, remove;
    sqlite::Statement insert_audit, insert_checkpoint;
  };
  struct Reader {
    sqlite::Connection connection;
    std::array<sqlite::Statement, kTableCount> load, get;
    sqlite::Statement read_audit, last_audit, read_checkpoints;
  };

  // "sqlite store `PATH`: OPERATION: message".
  Error Failure(const Error& error, std::string_view operation) const {
    return error.WithContext("sqlite store " + Quoted(path_) + ": " + std::string(operation));
  }
  Status Configure(sqlite::Connection& connection, bool writer);
  Status PrepareWriter();
  Status PrepareReader();
  // Applies the batch's mutations, checkpoints and, with `with_audit`, its audit rows.
  Status ApplyBatch(const Batch& batch, bool with_audit);
  // One SQLite transaction around ApplyBatch. REQUIRES: write_mutex_ held.
  Status CommitToDatabase(const Batch& batch, bool with_audit);
  Result<std::optional<AuditRow>> LastDatabaseAudit();
  Result<std::int64_t> ReadPrunedThrough();
  Status ApplyMutation(const Mutation& mutation);
  Status InsertAudit(const AuditRow& row);
  Status InsertCheckpoint(const CheckpointRow& row);

  // WAL checkpoints run on their own connection and thread, so that copying the WAL into the
  // database (and, with synchronous=NORMAL, its fsync) never stalls a commit: SQLite's automatic
  // checkpoint would run inside the commit that crosses the threshold. PASSIVE checkpoints never
  // wait for the writer; the WAL restarts from its beginning once a checkpoint has caught up.
  static int OnWalCommit(void* store, sqlite3* db, const char* schema, int wal_pages);
  Status StartCheckpointer();
  void StopCheckpointer();
  void CheckpointLoop();

  const std::string path_;       // as given, for messages
  const std::string file_name_;  // as passed to SQLite
  const bool full_sync_;
  const bool audit_segments_;  // audit rows of batches without mutations go to segments_
  std::unique_ptr<AuditSegments> segments_;
  std::mutex write_mutex_;
  Writer writer_;
  std::int64_t last_audit_seq_ = 0;  // of the whole chain; guarded by write_mutex_
  std::int64_t pruned_through_ = 0;  // guarded by write_mutex_
  std::mutex read_mutex_;
  Reader reader_;

  sqlite::Connection checkpoint_connection_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_wanted_ = false;
  bool checkpointer_stopping_ = false;
  std::thread checkpointer_;
};

// WAL size (in pages) that asks for a checkpoint; SQLite's own default threshold.
constexpr int kCheckpointPages = 1000;

int SqliteStore::OnWalCommit(void* store, sqlite3*, const char*, int wal_pages) {
  if (wal_pages < kCheckpointPages) return SQLITE_OK;
  auto* self = static_cast<SqliteStore*>(store);
  {
    std::lock_guard lock(self->checkpoint_mutex_);
    if (self->checkpoint_wanted_) return SQLITE_OK;
    self->checkpoint_wanted_ = true;
  }
  self->checkpoint_wake_.notify_one();
  return SQLITE_OK;
}

Status SqliteStore::StartCheckpointer() {
  XROLE_ASSIGN_OR_RETURN(checkpoint_connection_,
                         sqlite::Connection::Open(file_name_, SQLITE_OPEN_READWRITE));
  sqlite3_busy_handler(checkpoint_connection_.get(), &RetrySoon, nullptr);
  XROLE_RETURN_IF_ERROR(checkpoint_connection_.Exec(full_sync_ ? "PRAGMA synchronous = FULL"
                                                               : "PRAGMA synchronous = NORMAL"));
  sqlite3_wal_hook(writer_.connection.get(), &SqliteStore::OnWalCommit, this);
  checkpointer_ = std::thread(&SqliteStore::CheckpointLoop, this);
  return OkStatus();
}

void SqliteStore::StopCheckpointer() {
  if (!checkpointer_.joinable()) return;
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpointer_stopping_ = true;
  }
  checkpoint_wake_.notify_one();
  checkpointer_.join();
}

void SqliteStore::CheckpointLoop() {
  NameThisThread("xrole-wal");
  std::unique_lock lock(checkpoint_mutex_);
  while (true) {
    checkpoint_wake_.wait(lock, [this] { return checkpoint_wanted_ || checkpointer_stopping_; });
    if (checkpointer_stopping_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    // A busy or failed checkpoint is retried when the WAL grows again; the data is in the WAL
    // either way.
    sqlite3_wal_checkpoint_v2(checkpoint_connection_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                              nullptr, nullptr);
    lock.lock();
  }
}

Status SqliteStore::Configure(sqlite::Connection& connection, bool writer) {
  // Set first, so that the pragmas below wait for a lock held by another process.
  sqlite3_busy_handler(connection.get(), &RetrySoon, nullptr);
  if (writer) {
    XROLE_ASSIGN_OR_RETURN(std::string mode, connection.QueryText("PRAGMA journal_mode = WAL"));
    if (mode != "wal") {
      return Error(
          ErrorCode::kUnavailable,
          "cannot switch to write-ahead logging (journal mode stays " + Quoted(mode) + ")");
    }
    // A WAL file that grew during a burst is truncated back to this size after a checkpoint.
    XROLE_RETURN_IF_ERROR(connection.Exec("PRAGMA journal_size_limit = 67108864"));
  }
  // NORMAL in WAL mode: a commit is in the WAL (the OS page cache) when it returns, which
  // survives the process dying; FULL also fsyncs the WAL on every commit (power loss).
  XROLE_RETURN_IF_ERROR(
      connection.Exec(full_sync_ ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"));
  XROLE_RETURN_IF_ERROR(connection.Exec("PRAGMA foreign_keys = ON"));
  if (!writer) XROLE_RETURN_IF_ERROR(connection.Exec("PRAGMA query_only = ON"));
  return OkStatus();
}

Status SqliteStore::PrepareWriter() {
  sqlite::Connection& db = writer_.connection;
  XROLE_ASSIGN_OR_RETURN(writer_.begin, db.Prepare("BEGIN IMMEDIATE"));
  XROLE_ASSIGN_OR_RETURN(writer_.commit, db.Prepare("COMMIT"));
  XROLE_ASSIGN_OR_RETURN(writer_.rollback, db.Prepare("ROLLBACK"));
  for (std::size_t i = 0; i < kTableCount; ++i) {
    std::string name(TableName(kTables[i]));
    // The WHERE inserts nothing for invalid JSON, which ApplyMutation reports: the generated
    // columns would otherwise fail first with a bare "malformed JSON".
    XROLE_ASSIGN_OR_RETURN(writer_.upsert[i],
                           db.Prepare("INSERT INTO " + name +
                                      " (id, doc) SELECT ?1, ?2 WHERE json_valid(?2) "
                                      "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc"));
    XROLE_ASSIGN_OR_RETURN(writer_.remove[i], db.Prepare("DELETE FROM " + name + " WHERE id = ?1"));
  }
  XROLE_ASSIGN_OR_RETURN(writer_.insert_audit,
                         db.Prepare("INSERT INTO audit_log (seq, time_ms, type, body, prev_hash, "
                                    "hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  XROLE_ASSIGN_OR_RETURN(writer_.insert_checkpoint,
                         db.Prepare("INSERT INTO audit_checkpoints (seq, hash, time_ms, key_id, "
                                    "signature) VALUES (?1, ?2, ?3, ?4, ?5)"));
  return OkStatus();
}

Status SqliteStore::PrepareReader() {
  sqlite::Connection& db = reader_.connection;
  for (std::size_t i = 0; i < kTableCount; ++i) {
    std::string name(TableName(kTables[i]));
    XROLE_ASSIGN_OR_RETURN(reader_.load[i],
                           db.Prepare("SELECT id, doc FROM " + name + " ORDER BY id"));
    XROLE_ASSIGN_OR_RETURN(reader_.get[i],
                           db.Prepare("SELECT doc FROM " + name + " WHERE id = ?1"));
  }
  constexpr std::string_view kAuditColumns =
      "SELECT seq, time_ms, type, body, prev_hash, hash FROM audit_log ";
  XROLE_ASSIGN_OR_RETURN(reader_.read_audit, db.Prepare(std::string(kAuditColumns) +
                                                        "WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
  XROLE_ASSIGN_OR_RETURN(reader_.last_audit,
                         db.Prepare(std::string(kAuditColumns) + "ORDER BY seq DESC LIMIT 1"));
  XROLE_ASSIGN_OR_RETURN(reader_.read_checkpoints,
                         db.Prepare("SELECT seq, hash, time_ms, key_id, signature "
                                    "FROM audit_checkpoints ORDER BY seq"));
  return OkStatus();
}

Status SqliteStore::Open() {
  if (auto created = CreateOwnerOnly(file_name_); !created.ok()) {
    return Failure(created.error(), "create");
  }
  auto writer = sqlite::Connection::Open(file_name_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!writer.ok()) return Failure(writer.error(), "open");
  writer_.connection = std::move(writer).value();
  if (auto configured = Configure(writer_.connection, /*writer=*/true); !configured.ok()) {
    return Failure(configured.error(), "configure");
  }
  if (auto migrated = MigrateSqlite(writer_.connection); !migrated.ok()) {
    return Failure(migrated.error(), "migrate");
  }
  if (auto prepared = PrepareWriter(); !prepared.ok()) return Failure(prepared.error(), "prepare");

  auto reader = sqlite::Connection::Open(file_name_, SQLITE_OPEN_READWRITE);
  if (!reader.ok()) return Failure(reader.error(), "open for reading");
  reader_.connection = std::move(reader).value();
  if (auto configured = Configure(reader_.connection, /*writer=*/false); !configured.ok()) {
    return Failure(configured.error(), "configure for reading");
  }
  if (auto prepared = PrepareReader(); !prepared.ok()) return Failure(prepared.error(), "prepare");
  auto segments = AuditSegments::Open(file_name_ + "-audit", full_sync_);
  if (!segments.ok()) return Failure(segments.error(), "open audit segments");
  segments_ = std::move(segments).value();
  if (auto pruned = ReadPrunedThrough(); !pruned.ok()) {
    return Failure(pruned.error(), "read the audit retention mark");
  } else {
    pruned_through_ = *pruned;
    segments_->SetPrunedThrough(pruned_through_);
  }
  auto last = LastDatabaseAudit();
  if (!last.ok()) return last.error();
  last_audit_seq_ = std::max(*last ? (*last)->seq : 0, segments_->last_seq());
  if (auto started = StartCheckpointer(); !started.ok()) {
    return Failure(started.error(), "start the checkpointer");
  }
  return OkStatus();
}

Status SqliteStore::ApplyMutation(const Mutation& mutation) {
  auto what = [&] {
    return (mutation.doc ? "upsert " : "delete ") +
           Quoted(std::string(TableName(mutation.table)) + "/" + mutation.id);
  };
  std::size_t index = TableIndex(mutation.table);
  if (index == kTableCount) {
    return Error(ErrorCode::kInvalidArgument,
                 "unknown table " + std::to_string(static_cast<int>(mutation.table)));
  }
  if (mutation.id.empty()) return Error(ErrorCode::kInvalidArgument, what() + ": empty id");
  auto run = [&]() -> Status {
    if (mutation.doc) {
      sqlite::Statement& upsert = writer_.upsert[index];
      XROLE_RETURN_IF_ERROR(upsert.BindText(1, mutation.id));
      XROLE_RETURN_IF_ERROR(upsert.BindText(2, *mutation.doc));
      XROLE_RETURN_IF_ERROR(upsert.Run());
      if (writer_.connection.Changes() == 0) {
        return Error(ErrorCode::kInvalidArgument, "document is not valid JSON");
      }
      return OkStatus();
    }
    sqlite::Statement& remove = writer_.remove[index];
    XROLE_RETURN_IF_ERROR(remove.BindText(1, mutation.id));
    return remove.Run();
  };
  if (Status done = run(); !done.ok()) return done.error().WithContext(what());
  return OkStatus();
}

Status SqliteStore::InsertAudit(const AuditRow& row) {
  auto what = [&] { return "insert audit row " + std::to_string(row.seq); };
  if (row.seq < 1) return Error(ErrorCode::kInvalidArgument, what() + ": seq must be at least 1");
  sqlite::Statement& insert = writer_.insert_audit;
  auto run = [&]() -> Status {
    XROLE_RETURN_IF_ERROR(insert.BindInt64(1, row.seq));
    XROLE_RETURN_IF_ERROR(insert.BindInt64(2, row.time_ms));
    XROLE_RETURN_IF_ERROR(insert.BindText(3, row.type));
    XROLE_RETURN_IF_ERROR(insert.BindText(4, row.body));
    XROLE_RETURN_IF_ERROR(insert.BindText(5, row.prev_hash));
    XROLE_RETURN_IF_ERROR(insert.BindText(6, row.hash));
    return insert.Run();
  };
  if (Status done = run(); !done.ok()) return done.error().WithContext(what());
  return OkStatus();
}

Status SqliteStore::InsertCheckpoint(const CheckpointRow& row) {
  sqlite::Statement& insert = writer_.insert_checkpoint;
  auto run = [&]() -> Status {
    XROLE_RETURN_IF_ERROR(insert.BindInt64(1, row.seq));
    XROLE_RETURN_IF_ERROR(insert.BindText(2, row.hash));
    XROLE_RETURN_IF_ERROR(insert.BindInt64(3, row.time_ms));
    XROLE_RETURN_IF_ERROR(insert.BindText(4, row.key_id));
    XROLE_RETURN_IF_ERROR(insert.BindText(5, row.signature));
    return insert.Run();
  };
  if (Status done = run(); !done.ok()) {
    return done.error().WithContext("insert checkpoint " + std::to_string(row.seq));
  }
  return OkStatus();
}

Status SqliteStore::ApplyBatch(const Batch& batch, bool with_audit) {
  for (const Mutation& mutation : batch.mutations) XROLE_RETURN_IF_ERROR(ApplyMutation(mutation));
  if (with_audit) {
    for (const AuditRow& row : batch.audit) XROLE_RETURN_IF_ERROR(InsertAudit(row));
  }
  for (const CheckpointRow& row : batch.checkpoints) XROLE_RETURN_IF_ERROR(InsertCheckpoint(row));
  return OkStatus();
}

Status SqliteStore::Commit(const Batch& batch) {
  if (batch.empty()) return OkStatus();
  std::lock_guard lock(write_mutex_);
  if (!batch.audit.empty() && batch.audit.front().seq <= last_audit_seq_) {
    return Failure(
        Error(ErrorCode::kConflict, "audit seq " + std::to_string(batch.audit.front().seq) +
                                        " already exists (the chain ends at " +
                                        std::to_string(last_audit_seq_) + ")"),
        "commit");
  }
  const bool to_segments = audit_segments_ && batch.mutations.empty() && !batch.audit.empty();
  if (to_segments) {
    // The records first: a checkpoint must never be durable without the records it pins.
    if (auto appended = segments_->Append(batch.audit); !appended.ok()) {
      return Failure(appended.error(), "commit");
    }
    if (!batch.checkpoints.empty()) {
      if (Status committed = CommitToDatabase(batch, /*with_audit=*/false); !committed.ok()) {
        (void)segments_->Discard();
        return committed;
      }
    }
    segments_->Publish();
  } else {
    XROLE_RETURN_IF_ERROR(CommitToDatabase(batch, /*with_audit=*/true));
  }
  if (!batch.audit.empty()) last_audit_seq_ = batch.audit.back().seq;
  return OkStatus();
}

Status SqliteStore::CommitToDatabase(const Batch& batch, bool with_audit) {
  if (auto begun = writer_.begin.Run(); !begun.ok()) return Failure(begun.error(), "commit: begin");
  Status applied = ApplyBatch(batch, with_audit);
  if (applied.ok()) {
    applied = writer_.commit.Run();
    if (applied.ok()) return OkStatus();
    applied = applied.error().WithContext("commit");
  }
  // Leaves no transaction open, whatever failed (a failed COMMIT may keep it open).
  if (writer_.connection.InTransaction()) (void)writer_.rollback.Run();
  return Failure(applied.error(), "commit");
}

Result<std::vector<Entity>> SqliteStore::LoadTable(Table table) {
  std::size_t index = TableIndex(table);
  if (index == kTableCount) {
    return Error(ErrorCode::kInvalidArgument,
                 "unknown table " + std::to_string(static_cast<int>(table)));
  }
  std::lock_guard lock(read_mutex_);
  sqlite::Statement& load = reader_.load[index];
  sqlite::ResetOnExit reset(load);
  std::vector<Entity> entities;
  while (true) {
    auto row = load.Step();
    if (!row.ok()) return Failure(row.error(), "load " + Quoted(TableName(table)));
    if (!*row) return entities;
    entities.push_back(Entity{load.ColumnText(0), load.ColumnText(1)});
  }
}

Result<std::optional<std::string>> SqliteStore::Get(Table table, std::string_view id) {
  std::size_t index = TableIndex(table);
  if (index == kTableCount) {
    return Error(ErrorCode::kInvalidArgument,
                 "unknown table " + std::to_string(static_cast<int>(table)));
  }
  std::lock_guard lock(read_mutex_);
  sqlite::Statement& get = reader_.get[index];
  sqlite::ResetOnExit reset(get);
  auto what = [&] {
    return "get " + Quoted(std::string(TableName(table)) + "/" + std::string(id));
  };
  if (auto bound = get.BindText(1, id); !bound.ok()) return Failure(bound.error(), what());
  auto row = get.Step();
  if (!row.ok()) return Failure(row.error(), what());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(get.ColumnText(0));
}

AuditRow ReadAuditRow(const sqlite::Statement& statement) {
  AuditRow row;
  row.seq = statement.ColumnInt64(0);
  row.time_ms = statement.ColumnInt64(1);
  row.type = statement.ColumnText(2);
  row.body = statement.ColumnText(3);
  row.prev_hash = statement.ColumnText(4);
  row.hash = statement.ColumnText(5);
  return row;
}

Result<std::vector<AuditRow>> SqliteStore::ReadAudit(std::int64_t after_seq, std::size_t limit) {
  // SQLite reads a negative LIMIT as no limit.
  std::int64_t sql_limit = -1;
  if (limit != 0 && limit <= static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
    sql_limit = static_cast<std::int64_t>(limit);
  }
  std::vector<AuditRow> rows;
  std::string what = "read audit after " + std::to_string(after_seq);
  {
    std::lock_guard lock(read_mutex_);
    sqlite::Statement& read = reader_.read_audit;
    sqlite::ResetOnExit reset(read);
    if (auto bound = read.BindInt64(1, after_seq); !bound.ok()) return Failure(bound.error(), what);
    if (auto bound = read.BindInt64(2, sql_limit); !bound.ok()) return Failure(bound.error(), what);
    while (true) {
      auto row = read.Step();
      if (!row.ok()) return Failure(row.error(), what);
      if (!*row) break;
      rows.push_back(ReadAuditRow(read));
    }
  }
  auto from_segments = segments_->Read(after_seq, limit);
  if (!from_segments.ok()) return Failure(from_segments.error(), what);
  if (from_segments->empty()) return rows;
  // Both parts are in seq order; a seq stored in both (only by editing them) appears twice.
  std::vector<AuditRow> merged;
  merged.reserve(rows.size() + from_segments->size());
  std::merge(std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()),
             std::make_move_iterator(from_segments->begin()),
             std::make_move_iterator(from_segments->end()), std::back_inserter(merged),
             [](const AuditRow& a, const AuditRow& b) { return a.seq < b.seq; });
  if (limit != 0 && merged.size() > limit) merged.resize(limit);
  return merged;
}

Result<std::optional<AuditRow>> SqliteStore::LastAudit() {
  XROLE_ASSIGN_OR_RETURN(std::optional<AuditRow> last, LastDatabaseAudit());
  auto from_segments = segments_->Last();
  if (!from_segments.ok()) return Failure(from_segments.error(), "read last audit row");
  if (*from_segments && (!last || (*from_segments)->seq > last->seq)) return *from_segments;
  return last;
}

Result<std::optional<AuditRow>> SqliteStore::LastDatabaseAudit() {
  std::lock_guard lock(read_mutex_);
  sqlite::Statement& last = reader_.last_audit;
  sqlite::ResetOnExit reset(last);
  auto row = last.Step();
  if (!row.ok()) return Failure(row.error(), "read last audit row");
  if (!*row) return std::optional<AuditRow>();
  return std::optional<AuditRow>(ReadAuditRow(last));
}

constexpr std::string_view kPrunedThroughId = "auditPrunedThrough";

Result<std::int64_t> SqliteStore::ReadPrunedThrough() {
  XROLE_ASSIGN_OR_RETURN(std::optional<std::string> doc,
                         Get(Table::kMeta, std::string(kPrunedThroughId)));
  if (!doc) return std::int64_t{0};
  // The document is {"seq":N}, written by PruneAudit below.
  nlohmann::json value = nlohmann::json::parse(*doc, nullptr, /*allow_exceptions=*/false);
  auto seq = value.is_object() ? value.find("seq") : value.end();
  if (!value.is_object() || seq == value.end() || !seq->is_number_integer() ||
      seq->get<std::int64_t>() < 0) {
    return Error(ErrorCode::kInternal,
                 "meta `" + std::string(kPrunedThroughId) + "` is not {\"seq\":N}: " + *doc);
  }
  return seq->get<std::int64_t>();
}

Status SqliteStore::PruneAudit(std::int64_t through_seq, const CheckpointRow& anchor) {
  std::lock_guard lock(write_mutex_);
  if (through_seq <= pruned_through_ || through_seq >= last_audit_seq_ ||
      anchor.seq != through_seq) {
    return Error(ErrorCode::kInvalidArgument,
                 "prune audit through " + std::to_string(through_seq) +
                     ": must be after the last prune (" + std::to_string(pruned_through_) +
                     ") and before the last record (" + std::to_string(last_audit_seq_) +
                     "), with the anchor checkpoint at that record");
  }
  auto run = [&]() -> Status {
    sqlite::Connection& db = writer_.connection;
    XROLE_ASSIGN_OR_RETURN(sqlite::Statement rows,
                           db.Prepare("DELETE FROM audit_log WHERE seq <= ?1"));
    XROLE_RETURN_IF_ERROR(rows.BindInt64(1, through_seq));
    XROLE_RETURN_IF_ERROR(rows.Run());
    XROLE_ASSIGN_OR_RETURN(sqlite::Statement checkpoints,
                           db.Prepare("DELETE FROM audit_checkpoints WHERE seq < ?1"));
    XROLE_RETURN_IF_ERROR(checkpoints.BindInt64(1, through_seq));
    XROLE_RETURN_IF_ERROR(checkpoints.Run());
    XROLE_ASSIGN_OR_RETURN(sqlite::Statement anchored,
                           db.Prepare("SELECT 1 FROM audit_checkpoints WHERE seq = ?1"));
    XROLE_RETURN_IF_ERROR(anchored.BindInt64(1, through_seq));
    XROLE_ASSIGN_OR_RETURN(bool has_anchor, anchored.Step());
    anchored.Reset();
    if (!has_anchor) XROLE_RETURN_IF_ERROR(InsertCheckpoint(anchor));
    return ApplyMutation(Mutation{Table::kMeta, std::string(kPrunedThroughId),
                                  "{\"seq\":" + std::to_string(through_seq) + "}"});
  };
  if (auto begun = writer_.begin.Run(); !begun.ok()) return Failure(begun.error(), "prune: begin");
  Status pruned = run();
  if (pruned.ok()) pruned = writer_.commit.Run();
  if (!pruned.ok()) {
    if (writer_.connection.InTransaction()) (void)writer_.rollback.Run();
    return Failure(pruned.error(), "prune audit through " + std::to_string(through_seq));
  }
  pruned_through_ = through_seq;
  // Readers skip the pruned seqs from here on; a file left behind by a failure here or a crash
  // is skipped too, and removed by the next prune.
  if (Status removed = segments_->PruneThrough(through_seq); !removed.ok()) {
    return Failure(removed.error(), "prune audit: remove segment files");
  }
  return OkStatus();
}

Result<std::vector<CheckpointRow>> SqliteStore::ReadCheckpoints() {
  std::lock_guard lock(read_mutex_);
  sqlite::Statement& read = reader_.read_checkpoints;
  sqlite::ResetOnExit reset(read);
  std::vector<CheckpointRow> checkpoints;
  while (true) {
    auto row = read.Step();
    if (!row.ok()) return Failure(row.error(), "read checkpoints");
    if (!*row) return checkpoints;
    CheckpointRow checkpoint;
    checkpoint.seq = read.ColumnInt64(0);
    checkpoint.hash = read.ColumnText(1);
    checkpoint.time_ms = read.ColumnInt64(2);
    checkpoint.key_id = read.ColumnText(3);
    checkpoint.signature = read.ColumnText(4);
    checkpoints.push_back(std::move(checkpoint));
  }
}

}  // namespace

Result<std::unique_ptr<AuditLock>> HoldOffAuditPrune(const std::string& path) {
  bool busy = false;
  // Debian's SQLite reads a name starting with "file:" as a URI, so the store opens "./file:...".
  return LockFile(path.starts_with("file:") ? "./" + path : path, LOCK_SH, &busy);
}

Result<std::unique_ptr<Store>> OpenSqlite(const std::string& path, const SqliteOptions& options) {
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "sqlite store: empty database path");
  if (path == ":memory:") {
    return Error(ErrorCode::kInvalidArgument,
                 "sqlite store " + Quoted(path) +
                     ": an in-memory database cannot be shared by the read and write "
                     "connections; use a file");
  }
  auto store = std::make_unique<SqliteStore>(path, options);
  XROLE_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace xrole::store
