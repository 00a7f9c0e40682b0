// sqlite.h: a small RAII layer over the SQLite C API for the store. A Connection owns one
// sqlite3 handle, a Statement one prepared statement. Neither is thread-safe: each is used by
// one thread at a time under its owner's mutex. Errors are values whose message is SQLite's
// own text; callers add what and where with Error::WithContext.
#ifndef XROLE_STORE_SQLITE_H_
#define XROLE_STORE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "xrole/status.h"

namespace xrole::store::sqlite {

// The Error for SQLite result code `rc` (an extended code), with the connection's message when
// it describes that code. Constraint violations of a key are kConflict, other constraint
// violations kInvalidArgument; busy, locked, I/O, full and can't-open are kUnavailable;
// everything else kInternal.
Error ErrorFromCode(int rc, sqlite3* db);

class Statement {
 public:
  Statement() = default;
  Statement(Statement&&) = default;
  Statement& operator=(Statement&&) = default;

  bool valid() const { return stmt_ != nullptr; }

  // Text is bound without copying: it must stay alive until Reset().
  Status BindText(int index, std::string_view text);
  Status BindInt64(int index, std::int64_t value);

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, ignoring rows, then resets.
  Status Run();
  // Ends the statement's use (releasing its read snapshot) and clears its bindings.
  void Reset();

  std::int64_t ColumnInt64(int column) const;
  // The column as UTF-8 text; NULL reads as "".
  std::string ColumnText(int column) const;

 private:
  friend class Connection;
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

// Resets a statement when leaving a scope, so that no read snapshot outlives its use.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.Reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& statement_;
};

class Connection {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is always added) and turns
  // on extended result codes.
  static Result<Connection> Open(const std::string& path, int flags);

  Connection() = default;
  Connection(Connection&&) = default;
  Connection& operator=(Connection&&) = default;

  // Runs one or more SQL statements that return no rows of interest.
  Status Exec(const std::string& sql);
  // Runs a statement and returns the first column of its first row as text ("" if no row).
  Result<std::string> QueryText(const std::string& sql);
  // Prepares a statement meant to be kept and reused.
  Result<Statement> Prepare(std::string_view sql);

  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t Changes() const { return sqlite3_changes64(db_.get()); }
  // True while a transaction is open.
  bool InTransaction() const;
  sqlite3* get() const { return db_.get(); }

 private:
  struct Closer {
    // close_v2 defers the close until every statement of the connection is finalized.
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit Connection(sqlite3* db) : db_(db) {}

  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace xrole::store::sqlite

#endif  // XROLE_STORE_SQLITE_H_
