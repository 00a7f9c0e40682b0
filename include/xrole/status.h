// status.h: the one error vocabulary of xrole. Fallible functions return Result<T> (a value or
// an Error) or Status (Result<void>); nothing throws across module boundaries. Decisions are
// not errors: an authorization that ends in a deny is a successful Result holding that deny.
#ifndef XROLE_STATUS_H_
#define XROLE_STATUS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace xrole {

enum class ErrorCode {
  kInvalidArgument,
  kMalformedPolicy,
  kNotFound,
  kAlreadyExists,
  kConflict,
  kUnauthenticated,
  kPermissionDenied,
  kExpired,
  kLimitExceeded,
  kUnavailable,
  kInternal,
};

// Stable lower_snake name of a code, used in JSON output ("malformed_policy").
std::string_view ErrorCodeName(ErrorCode code);

// Where in a text an error was found. line and column are 1-based; 0 means unknown.
struct SourceLocation {
  int line = 0;
  int column = 0;
  std::size_t offset = 0;

  bool known() const { return line > 0; }
};

// An error: a code, a one-line message (lowercase, no final period, user input in backticks),
// and where it was found: a JSON path such as `Statement[2].Condition.StringLike` and/or a
// location in the source text.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(ErrorCode code, std::string message, std::string path, SourceLocation location = {})
      : code_(code), message_(std::move(message)), path_(std::move(path)), location_(location) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& path() const { return path_; }
  const SourceLocation& location() const { return location_; }

  // Returns a copy whose message is prefixed with `context: `.
  Error WithContext(std::string_view context) const;
  // Returns a copy whose path is prefixed with `prefix` (joined with '.' unless the path
  // starts with '[').
  Error WithPathPrefix(std::string_view prefix) const;

  // "line 3, column 7: Statement[0].Effect: unknown effect `allow`" (parts omitted when unknown).
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::string path_;
  SourceLocation location_;
};

// Joins two JSON path pieces: JoinPath("Statement[0]", "Effect") == "Statement[0].Effect",
// JoinPath("Statement", "[0]") == "Statement[0]", JoinPath("", "Effect") == "Effect".
std::string JoinPath(std::string_view prefix, std::string_view suffix);

// A value of type T or an Error. Mirrors the std::expected API subset we use.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool has_value() const { return state_.index() == 0; }
  bool ok() const { return has_value(); }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Error& error() const { return std::get<1>(state_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), has_error_(true) {}  // NOLINT: implicit

  bool has_value() const { return !has_error_; }
  bool ok() const { return !has_error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool has_error_ = false;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace xrole

#define XROLE_INTERNAL_CONCAT2(a, b) a##b
#define XROLE_INTERNAL_CONCAT(a, b) XROLE_INTERNAL_CONCAT2(a, b)

// Returns the error of `expr` (a Status or Result) from the enclosing function, if any.
#define XROLE_RETURN_IF_ERROR(expr)                        \
  do {                                                     \
    auto&& xrole_status_ = (expr);                         \
    if (!xrole_status_.ok()) return xrole_status_.error(); \
  } while (0)

// Evaluates `rexpr` (a Result<T>); on error returns it, otherwise moves the value into `lhs`.
#define XROLE_ASSIGN_OR_RETURN(lhs, rexpr)                         \
  auto XROLE_INTERNAL_CONCAT(xrole_result_, __LINE__) = (rexpr);   \
  if (!XROLE_INTERNAL_CONCAT(xrole_result_, __LINE__).ok())        \
    return XROLE_INTERNAL_CONCAT(xrole_result_, __LINE__).error(); \
  lhs = std::move(XROLE_INTERNAL_CONCAT(xrole_result_, __LINE__)).value()

#endif  // XROLE_STATUS_H_
