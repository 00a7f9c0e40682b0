#include "xrole/status.h"

#include <string>

namespace xrole {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kMalformedPolicy:
      return "malformed_policy";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kExpired:
      return "expired";
    case ErrorCode::kLimitExceeded:
      return "limit_exceeded";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

std::string JoinPath(std::string_view prefix, std::string_view suffix) {
  if (prefix.empty()) return std::string(suffix);
  if (suffix.empty()) return std::string(prefix);
  std::string out(prefix);
  if (suffix.front() != '[') out += '.';
  out += suffix;
  return out;
}

Error Error::WithContext(std::string_view context) const {
  Error copy = *this;
  copy.message_ = std::string(context) + ": " + message_;
  return copy;
}

Error Error::WithPathPrefix(std::string_view prefix) const {
  Error copy = *this;
  copy.path_ = JoinPath(prefix, path_);
  return copy;
}

std::string Error::ToString() const {
  std::string out;
  if (location_.known()) {
    out += "line " + std::to_string(location_.line) + ", column " +
           std::to_string(location_.column) + ": ";
  }
  if (!path_.empty()) out += path_ + ": ";
  out += message_;
  return out;
}

}  // namespace xrole
