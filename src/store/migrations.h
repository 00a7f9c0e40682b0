// migrations.h: the numbered schema migrations of the SQLite store. Version N is applied once,
// in its own transaction together with its row in schema_migrations(version, applied_at), so a
// crash leaves the schema at some whole version. Migrations are append-only: a released one is
// never edited; a change is a new, higher version.
#ifndef XROLE_STORE_MIGRATIONS_H_
#define XROLE_STORE_MIGRATIONS_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "store/sqlite.h"
#include "xrole/status.h"

namespace xrole::store {

struct Migration {
  std::int64_t version;   // 1, 2, 3, ... without gaps
  std::string_view name;  // what it does, for errors
  std::string_view sql;   // one or more statements
};

std::span<const Migration> SqliteMigrations();
std::int64_t LatestSqliteSchemaVersion();

// Brings the database of `connection` (opened for writing, no transaction open) to the latest
// version. A database whose recorded version is newer than the latest known is refused with
// kUnavailable, untouched. Safe against another process migrating the same file concurrently:
// each step re-reads the version after taking the write lock.
Status MigrateSqlite(sqlite::Connection& connection);

}  // namespace xrole::store

#endif  // XROLE_STORE_MIGRATIONS_H_
