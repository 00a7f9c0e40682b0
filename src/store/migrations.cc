#include "store/migrations.h"

#include <chrono>
#include <iterator>
#include <string>

namespace xrole::store {
namespace {

// Entity tables hold a JSON document per id. The VIRTUAL generated columns cost no space: they
// are computed from `doc` when read, and their indexes make the common lookups plain SQL.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE objects (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL CHECK (json_valid(doc)),
  kind TEXT GENERATED ALWAYS AS (json_extract(doc, '$.kind')) VIRTUAL,
  name TEXT GENERATED ALWAYS AS (json_extract(doc, '$.name')) VIRTUAL
);
CREATE INDEX objects_kind_name ON objects (kind, name);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL CHECK (json_valid(doc)),
  workflow TEXT GENERATED ALWAYS AS (json_extract(doc, '$.workflow')) VIRTUAL,
  agent TEXT GENERATED ALWAYS AS (json_extract(doc, '$.agent')) VIRTUAL,
  status TEXT GENERATED ALWAYS AS (json_extract(doc, '$.status')) VIRTUAL
);
CREATE INDEX runs_workflow ON runs (workflow);
CREATE INDEX runs_agent ON runs (agent);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL CHECK (json_valid(doc)),
  run_id TEXT GENERATED ALWAYS AS (json_extract(doc, '$.runId')) VIRTUAL,
  agent TEXT GENERATED ALWAYS AS (json_extract(doc, '$.agent')) VIRTUAL,
  role TEXT GENERATED ALWAYS AS (json_extract(doc, '$.role')) VIRTUAL,
  status TEXT GENERATED ALWAYS AS (json_extract(doc, '$.status')) VIRTUAL,
  expires_at AS (json_extract(doc, '$.expiresAt')) VIRTUAL  -- no type: number or text as stored
);
CREATE INDEX sessions_run_id ON sessions (run_id);
CREATE INDEX sessions_agent ON sessions (agent);
CREATE INDEX sessions_role ON sessions (role);

CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL CHECK (json_valid(doc)),
  run_id TEXT GENERATED ALWAYS AS (json_extract(doc, '$.runId')) VIRTUAL,
  role TEXT GENERATED ALWAYS AS (json_extract(doc, '$.role')) VIRTUAL,
  status TEXT GENERATED ALWAYS AS (json_extract(doc, '$.status')) VIRTUAL
);
CREATE INDEX approvals_run_id ON approvals (run_id);
CREATE INDEX approvals_status ON approvals (status);

CREATE TABLE access_keys (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL CHECK (json_valid(doc)),
  principal TEXT GENERATED ALWAYS AS (json_extract(doc, '$.principal')) VIRTUAL,
  status TEXT GENERATED ALWAYS AS (json_extract(doc, '$.status')) VIRTUAL
);
CREATE INDEX access_keys_principal ON access_keys (principal);

CREATE TABLE signing_keys (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL CHECK (json_valid(doc)),
  status TEXT GENERATED ALWAYS AS (json_extract(doc, '$.status')) VIRTUAL
);

CREATE TABLE meta (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL CHECK (json_valid(doc))
);

-- The audit chain. Deliberately no triggers and no seq-continuity rule here: the hash chain
-- and the signed checkpoints are what detect an edited, removed or inserted row.
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);

CREATE TABLE audit_checkpoints (
  seq INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL
);
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial schema", kInitialSchema},
};

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::int64_t> CurrentVersion(sqlite::Connection& connection) {
  XROLE_ASSIGN_OR_RETURN(sqlite::Statement query,
                         connection.Prepare("SELECT MAX(version) FROM schema_migrations"));
  sqlite::ResetOnExit reset(query);
  XROLE_ASSIGN_OR_RETURN(bool row, query.Step());
  return row ? query.ColumnInt64(0) : 0;
}

Error TooNew(std::int64_t version) {
  return Error(ErrorCode::kUnavailable, "database schema version " + std::to_string(version) +
                                            " is newer than the latest this xrole knows (" +
                                            std::to_string(LatestSqliteSchemaVersion()) +
                                            "); use a newer xrole");
}

// One step: under the write lock, applies `migration` unless the database is already at or
// past it. Returns the version the database is at afterwards.
Result<std::int64_t> ApplyOne(sqlite::Connection& connection, const Migration& migration) {
  XROLE_ASSIGN_OR_RETURN(std::int64_t version, CurrentVersion(connection));
  if (version > LatestSqliteSchemaVersion()) return TooNew(version);
  if (version >= migration.version) return version;
  if (version != migration.version - 1) {
    return Error(ErrorCode::kInternal, "database schema version " + std::to_string(version) +
                                           " cannot be migrated to " +
                                           std::to_string(migration.version));
  }
  Status applied = connection.Exec(std::string(migration.sql));
  if (!applied.ok()) {
    return applied.error().WithContext("migration " + std::to_string(migration.version) + " (" +
                                       std::string(migration.name) + ")");
  }
  XROLE_ASSIGN_OR_RETURN(sqlite::Statement record,
                         connection.Prepare("INSERT INTO schema_migrations (version, applied_at) "
                                            "VALUES (?, ?)"));
  XROLE_RETURN_IF_ERROR(record.BindInt64(1, migration.version));
  XROLE_RETURN_IF_ERROR(record.BindInt64(2, NowMs()));
  XROLE_RETURN_IF_ERROR(record.Run());
  return migration.version;
}

// Runs `step` in a BEGIN IMMEDIATE transaction: committed when it succeeds, rolled back
// otherwise.
template <typename Step>
auto InWriteTransaction(sqlite::Connection& connection, Step step) -> decltype(step()) {
  XROLE_RETURN_IF_ERROR(connection.Exec("BEGIN IMMEDIATE"));
  auto result = step();
  if (result.ok()) {
    Status committed = connection.Exec("COMMIT");
    if (committed.ok()) return result;
    result = committed.error();
  }
  if (connection.InTransaction()) (void)connection.Exec("ROLLBACK");
  return result;
}

}  // namespace

std::span<const Migration> SqliteMigrations() { return kMigrations; }

std::int64_t LatestSqliteSchemaVersion() { return std::end(kMigrations)[-1].version; }

Status MigrateSqlite(sqlite::Connection& connection) {
  XROLE_RETURN_IF_ERROR(
      connection.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"));
  // Checked before any step so that a too-new database is refused even when it is busy.
  XROLE_ASSIGN_OR_RETURN(std::int64_t version, CurrentVersion(connection));
  if (version > LatestSqliteSchemaVersion()) return TooNew(version);
  for (const Migration& migration : kMigrations) {
    if (migration.version <= version) continue;
    XROLE_ASSIGN_OR_RETURN(
        version, InWriteTransaction(connection, [&] { return ApplyOne(connection, migration); }));
  }
  return OkStatus();
}

}  // namespace xrole::store
