#include "store/sqlite.h"

#include <limits>
#include <string>
#include <utility>

namespace xrole::store::sqlite {

Error ErrorFromCode(int rc, sqlite3* db) {
  std::string message;
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    message = sqlite3_errmsg(db);
  } else {
    message = sqlite3_errstr(rc);
  }
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      code = (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
                 ? ErrorCode::kConflict
                 : ErrorCode::kInvalidArgument;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = ErrorCode::kUnavailable;
      break;
    default:
      break;
  }
  return Error(code, message);
}

Status Statement::BindText(int index, std::string_view text) {
  // A non-null pointer even for "" so that an empty string binds as text, not NULL.
  const char* data = text.empty() ? "" : text.data();
  int rc = sqlite3_bind_text64(stmt_.get(), index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) return ErrorFromCode(rc, sqlite3_db_handle(stmt_.get()));
  return OkStatus();
}

Status Statement::BindInt64(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) return ErrorFromCode(rc, sqlite3_db_handle(stmt_.get()));
  return OkStatus();
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorFromCode(rc, sqlite3_db_handle(stmt_.get()));
}

Status Statement::Run() {
  ResetOnExit reset(*this);
  while (true) {
    XROLE_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), column);
  if (text == nullptr) return std::string();
  int size = sqlite3_column_bytes(stmt_.get(), column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

Result<Connection> Connection::Open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection connection(raw);  // owns the handle even when the open failed
  if (rc != SQLITE_OK) {
    if (raw == nullptr) return Error(ErrorCode::kInternal, "out of memory");
    return ErrorFromCode(rc, raw);
  }
  sqlite3_extended_result_codes(raw, 1);
  return connection;
}

Status Connection::Exec(const std::string& sql) {
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return ErrorFromCode(rc, db_.get());
  return OkStatus();
}

Result<std::string> Connection::QueryText(const std::string& sql) {
  XROLE_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
  ResetOnExit reset(statement);
  XROLE_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) return std::string();
  return statement.ColumnText(0);
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Error(ErrorCode::kInvalidArgument, "sql statement too long");
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Statement statement(raw);
  if (rc != SQLITE_OK) return ErrorFromCode(rc, db_.get());
  if (raw == nullptr) return Error(ErrorCode::kInternal, "empty sql statement");
  return statement;
}

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

}  // namespace xrole::store::sqlite
