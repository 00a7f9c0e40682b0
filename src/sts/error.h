// error.h: the error value of the STS endpoint. Unlike xrole::Error, an StsError carries the
// AWS error code string the client sees ("SignatureDoesNotMatch", "ValidationError", ...) and an
// AWS-style message; HttpStatusForStsError (protocol.h) maps the code to the HTTP status and
// WriteErrorResponse renders it. StsResult<T> mirrors xrole::Result<T> with StsError in place of
// Error (XROLE_RETURN_IF_ERROR / XROLE_ASSIGN_OR_RETURN from xrole/status.h work with it);
// nothing in src/sts throws.
#ifndef XROLE_STS_ERROR_H_
#define XROLE_STS_ERROR_H_

#include <string>
#include <utility>
#include <variant>

#include "xrole/status.h"

namespace xrole::sts {

struct StsError {
  std::string code;     // AWS error code, e.g. "IncompleteSignature"
  std::string message;  // AWS-style message, safe to send to the client
  // Extra diagnostic text that is never part of `message`: for SignatureDoesNotMatch, the
  // canonical request and string to sign the server computed (they contain no secret, but
  // callers decide whether to expose them, e.g. only in debug logs or on a local endpoint).
  std::string debug_detail;
};

template <typename T>
class [[nodiscard]] StsResult {
 public:
  StsResult(T value) : state_(std::in_place_index<0>, std::move(value)) {}         // NOLINT
  StsResult(StsError error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  bool has_value() const { return ok(); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const StsError& error() const { return std::get<1>(state_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, StsError> state_;
};

template <>
class [[nodiscard]] StsResult<void> {
 public:
  StsResult() = default;
  StsResult(StsError error) : error_(std::move(error)), has_error_(true) {}  // NOLINT

  bool ok() const { return !has_error_; }
  bool has_value() const { return ok(); }
  explicit operator bool() const { return ok(); }
  const StsError& error() const { return error_; }

 private:
  StsError error_;
  bool has_error_ = false;
};

using StsStatus = StsResult<void>;

}  // namespace xrole::sts

#endif  // XROLE_STS_ERROR_H_
