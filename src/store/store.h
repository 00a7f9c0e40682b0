// store.h: xrole's durable state behind one interface. The broker keeps its working state in
// memory and writes through: every change, together with the audit records that describe it,
// is one Batch committed atomically; nothing is acknowledged before its batch is durable
// (surviving kill -9). Entities are JSON documents keyed by id in one table per kind (each
// table also exposes a few generated, indexed columns for inspection with plain SQL). The
// audit chain and its signed checkpoints have their own append-only tables.
//
// Backends: SQLite (embedded default, WAL, numbered migrations); PostgreSQL later, same
// contract. Implementations are thread-safe: Commit serialises writers; reads may run
// concurrently with a commit and see the last committed state.
#ifndef XROLE_STORE_STORE_H_
#define XROLE_STORE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrole/status.h"

namespace xrole::store {

// One table per kind of entity. Documents are JSON objects (UTF-8 text).
enum class Table {
  kObjects,      // roles as code: id "Kind/name"; doc {kind, name, spec, hash, version, ...}
  kRuns,         // id "run-..."; doc has "workflow", "agent", "status"
  kSessions,     // id "ses-..."; doc has "runId", "agent", "role", "status", "expiresAt"
  kApprovals,    // id "apr-..."; doc has "runId", "role", "status"
  kAccessKeys,   // id = access key id; doc has "principal", "kind", "status" (no secrets)
  kSigningKeys,  // id = key id; doc has "publicKey" (base64), "status", "createdAt"
  kMeta,         // small named values: "schema", "adminTokenHash", ...
};
std::string_view TableName(Table table);

// Upsert (doc set) or delete (doc empty) of one entity.
struct Mutation {
  Table table;
  std::string id;
  std::optional<std::string> doc;
};

// One record of the audit chain. `hash` = SHA-256(prev_hash || canonical record), see
// src/audit/README.md; both are lower-case hex. seq starts at 1 and has no gaps.
struct AuditRow {
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;  // Unix epoch milliseconds
  std::string type;          // "session.assume", "authorize", ...
  std::string body;          // canonical JSON object
  std::string prev_hash;
  std::string hash;
};

// A signed statement that the chain up to `seq` ends in `hash`.
struct CheckpointRow {
  std::int64_t seq = 0;
  std::string hash;
  std::int64_t time_ms = 0;
  std::string key_id;
  std::string signature;  // base64 Ed25519 over audit::CheckpointMessage(seq, hash, time_ms)
};

// Everything one Commit makes durable, all or nothing.
struct Batch {
  std::vector<Mutation> mutations;
  std::vector<AuditRow> audit;
  std::vector<CheckpointRow> checkpoints;

  bool empty() const { return mutations.empty() && audit.empty() && checkpoints.empty(); }
};

struct Entity {
  std::string id;
  std::string doc;
};

// A lock on a store's audit log, released when destroyed (see Store::ExcludeAuditReaders and
// HoldOffAuditPrune).
class AuditLock {
 public:
  virtual ~AuditLock() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies the batch atomically and durably. On error nothing of it is applied. Errors:
  // kConflict when an audit row or checkpoint with the same seq already exists,
  // kInvalidArgument for a document that is not valid JSON or an empty id, kUnavailable when
  // the database cannot be written (busy, disk full, I/O error).
  virtual Status Commit(const Batch& batch) = 0;

  // Every entity of the table, in id order.
  virtual Result<std::vector<Entity>> LoadTable(Table table) = 0;
  virtual Result<std::optional<std::string>> Get(Table table, std::string_view id) = 0;

  // Audit rows with seq > after_seq, in seq order, at most `limit` (0: no limit).
  virtual Result<std::vector<AuditRow>> ReadAudit(std::int64_t after_seq, std::size_t limit) = 0;
  // The row with the highest seq, if any.
  virtual Result<std::optional<AuditRow>> LastAudit() = 0;
  virtual Result<std::vector<CheckpointRow>> ReadCheckpoints() = 0;

  // Retention: removes every audit record with seq <= through_seq and every checkpoint before
  // it, and stores `anchor` (a signed checkpoint pinning record through_seq, which the caller
  // has verified) unless a checkpoint at that seq exists. Atomic for readers: once it returns
  // (or the process dies after its transaction), reads start after through_seq, even while
  // files of removed records are still being deleted. kInvalidArgument unless
  // AuditPrunedThrough() < through_seq <= the last record and anchor.seq == through_seq.
  virtual Status PruneAudit(std::int64_t through_seq, const CheckpointRow& anchor) = 0;
  // The through_seq of the last PruneAudit, 0 if none.
  virtual Result<std::int64_t> AuditPrunedThrough() = 0;
  // Taken by retention before it changes anything, and held until PruneAudit is done: fails
  // with kUnavailable at once while another process reads the log directly (HoldOffAuditPrune),
  // and holds off new such readers while it lives. The default holds nothing, for a store no
  // other process reads.
  virtual Result<std::unique_ptr<AuditLock>> ExcludeAuditReaders() {
    return std::make_unique<AuditLock>();
  }

  // "sqlite:/path/to/xrole.db" (options that differ from the defaults appended as in the URL).
  virtual std::string Describe() const = 0;
};

// How durable a SQLite commit is. By default (WAL, synchronous=NORMAL) a commit that returned
// survives the process being killed (kill -9, crash), but the last commits may be lost if the
// machine loses power or the OS crashes. `full_sync` (synchronous=FULL, URL "?sync=full")
// also survives power loss, at the cost of an fsync per commit.
struct SqliteOptions {
  bool full_sync = false;
  // Where the audit records of a batch without mutations (decisions) go: true, to append-only
  // segment files in the directory `<database>-audit` (src/store/audit_segments.h), each record
  // written once; false (URL "?audit=table"), to the `audit_log` table like every other record.
  // Records already in either place are read back whatever this says.
  bool audit_segments = true;
};

// How many audit rows ForEachAuditRow reads at a time by default: about 4 MB of 1 KB records.
inline constexpr std::size_t kAuditPageRows = 4096;

// Hands every audit row with seq > after_seq to `each`, in the order read, reading them
// `page_rows` at a time (ReadAudit(after, page_rows); 0 is taken as 1), so that only one page is
// in memory. Reads until a page comes back short: rows appended meanwhile are read too. A page
// continues after the last seq of the one before; a seq stored twice (which only editing the
// store can do) is handed out twice even when a page ends between its copies. Stops at the
// first error of ReadAudit and returns it.
Status ForEachAuditRow(Store& store, std::int64_t after_seq, std::size_t page_rows,
                       const std::function<void(AuditRow row)>& each);

// Opens (creating if needed, mode 0600) the SQLite database at `path` and brings its schema up
// to the latest numbered migration, each migration in its own transaction. A database whose
// schema is newer than this binary knows is refused (kUnavailable).
Result<std::unique_ptr<Store>> OpenSqlite(const std::string& path,
                                          const SqliteOptions& options = {});

// For a process that reads the audit chain of the SQLite database at `path` itself (`xrole audit
// verify --offline` beside a running server): while the returned lock lives, no process prunes
// records from under it (a prune asked for meanwhile is refused; one already running is waited
// for). An advisory lock (flock) on the database file, separate from SQLite's own locks.
Result<std::unique_ptr<AuditLock>> HoldOffAuditPrune(const std::string& path);

// Opens a store from a URL: "sqlite:PATH" or a bare PATH, optionally followed by options
// "sync=full" or "sync=normal", "audit=segments" or "audit=table" ("?a&b"). "postgres://..." and
// "postgresql://..." are recognised but not built yet (kUnavailable); any other scheme is
// kInvalidArgument.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

}  // namespace xrole::store

#endif  // XROLE_STORE_STORE_H_
