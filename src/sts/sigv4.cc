#include "sts/sigv4.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <optional>

#include "common/strings.h"

namespace xrole::sts {
namespace {

constexpr std::string_view kSignatureMismatchMessage =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
constexpr std::int64_t kMaxPresignedExpiry = 604800;  // one week, AWS's limit

StsError Incomplete(std::string message) {
  return StsError{"IncompleteSignature", std::move(message), ""};
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpaceOrTab(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpaceOrTab(text.back())) text.remove_suffix(1);
  return text;
}

// RFC 3986 percent-decoding; '+' stays '+'. nullopt on a '%' without two hex digits.
std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

struct QueryParam {
  std::string name;  // decoded
  std::string value;
};

// The decoded parameters of a raw query string, in order; empty '&'-pieces are skipped.
std::optional<std::vector<QueryParam>> DecodeQuery(std::string_view raw) {
  std::vector<QueryParam> params;
  while (!raw.empty()) {
    const std::size_t amp = raw.find('&');
    const std::string_view piece = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (piece.empty()) continue;
    const std::size_t eq = piece.find('=');
    auto name = PercentDecode(piece.substr(0, eq));
    auto value =
        PercentDecode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    params.push_back(QueryParam{std::move(*name), std::move(*value)});
  }
  return params;
}

std::vector<std::string_view> HeaderValues(std::span<const HttpHeaderField> headers,
                                           std::string_view name_lower) {
  std::vector<std::string_view> values;
  for (const auto& field : headers) {
    if (EqualsIgnoreCase(field.first, name_lower)) values.push_back(field.second);
  }
  return values;
}

// Trims and collapses every run of spaces and tabs into one space.
void AppendCanonicalHeaderValue(std::string_view value, std::string* out) {
  value = Trim(value);
  bool in_space = false;
  for (char c : value) {
    if (IsSpaceOrTab(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out->push_back(' ');
    in_space = false;
    out->push_back(c);
  }
}

// ---- time ----

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

bool ParseFixedDigits(std::string_view text, int* value) {
  if (!IsDigits(text)) return false;
  int parsed = 0;
  for (char c : text) parsed = parsed * 10 + (c - '0');
  *value = parsed;
  return true;
}

bool ToEpoch(int year, int month, int day, int hour, int minute, int second,
             std::int64_t* epoch_seconds) {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  *epoch_seconds =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second;
  return true;
}

// RFC 7231 IMF-fixdate, the only form SDKs send in a Date header: "Sun, 06 Nov 1994 08:49:37 GMT".
bool ParseHttpDate(std::string_view text, std::int64_t* epoch_seconds) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  text = Trim(text);
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return false;
  }
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  const auto month_it = std::find(kMonths.begin(), kMonths.end(), text.substr(8, 3));
  if (month_it == kMonths.end() || !ParseFixedDigits(text.substr(5, 2), &day) ||
      !ParseFixedDigits(text.substr(12, 4), &year) ||
      !ParseFixedDigits(text.substr(17, 2), &hour) ||
      !ParseFixedDigits(text.substr(20, 2), &minute) ||
      !ParseFixedDigits(text.substr(23, 2), &second)) {
    return false;
  }
  return ToEpoch(year, static_cast<int>(month_it - kMonths.begin()) + 1, day, hour, minute, second,
                 epoch_seconds);
}

// ---- Authorization header ----

struct AuthorizationElements {
  std::string_view credential;
  std::string_view signed_headers;
  std::string_view signature;
};

StsResult<AuthorizationElements> SplitAuthorizationHeader(std::string_view header) {
  header = Trim(header);
  const std::size_t space = header.find_first_of(" \t");
  const std::string_view algorithm = header.substr(0, space);
  if (algorithm != kSigV4Algorithm) {
    return Incomplete("Unsupported AWS 'algorithm': '" + std::string(algorithm) + "'");
  }
  std::string_view rest = space == std::string_view::npos ? "" : header.substr(space);
  AuthorizationElements elements;
  bool seen_credential = false, seen_signed_headers = false, seen_signature = false;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view element = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (element.empty()) {
      return Incomplete("Authorization header has an empty element");
    }
    const std::size_t eq = element.find('=');
    if (eq == std::string_view::npos) {
      return Incomplete("Authorization header element '" + std::string(element) +
                        "' is not of the form key=value");
    }
    const std::string_view key = element.substr(0, eq);
    const std::string_view value = element.substr(eq + 1);
    bool* seen = nullptr;
    std::string_view* slot = nullptr;
    if (key == "Credential") {
      seen = &seen_credential;
      slot = &elements.credential;
    } else if (key == "SignedHeaders") {
      seen = &seen_signed_headers;
      slot = &elements.signed_headers;
    } else if (key == "Signature") {
      seen = &seen_signature;
      slot = &elements.signature;
    } else {
      return Incomplete("Authorization header has an unknown element '" + std::string(key) + "'");
    }
    if (*seen) {
      return Incomplete("Authorization header has more than one '" + std::string(key) +
                        "' element");
    }
    *seen = true;
    *slot = value;
  }
  std::string missing;
  if (!seen_credential) missing += "Authorization header requires 'Credential' parameter. ";
  if (!seen_signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!seen_signature) missing += "Authorization header requires 'Signature' parameter. ";
  if (!missing.empty()) {
    missing.pop_back();
    return Incomplete(std::move(missing));
  }
  return elements;
}

// "AKID/20150830/us-east-1/service/aws4_request" into `auth`.
StsStatus ParseCredential(std::string_view credential, SigV4Auth* auth) {
  std::vector<std::string_view> parts;
  std::string_view rest = credential;
  while (true) {
    const std::size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() != 5) {
    return Incomplete(
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got '" +
        std::string(credential) + "'");
  }
  if (parts[0].empty()) return Incomplete("Credential has an empty access key id");
  if (parts[1].size() != 8 || !IsDigits(parts[1])) {
    return Incomplete("Invalid credential date '" + std::string(parts[1]) + "': expected YYYYMMDD");
  }
  if (parts[2].empty()) return Incomplete("Credential should be scoped to a valid region.");
  if (parts[3].empty()) return Incomplete("Credential should be scoped to a valid service.");
  if (parts[4] != kTerminator) {
    return Incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                      std::string(parts[4]) + "'.");
  }
  auth->access_key_id = std::string(parts[0]);
  auth->scope_date = std::string(parts[1]);
  auth->region = std::string(parts[2]);
  auth->service = std::string(parts[3]);
  return {};
}

bool IsHeaderNameChar(char c) {
  // RFC 7230 tchar, lower-case only.
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

StsStatus ParseSignedHeaders(std::string_view list, SigV4Auth* auth) {
  auth->signed_headers.clear();
  std::string_view rest = list;
  while (true) {
    const std::size_t semicolon = rest.find(';');
    const std::string_view name = rest.substr(0, semicolon);
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsHeaderNameChar)) {
      return Incomplete("SignedHeaders '" + std::string(list) +
                        "' must be lower-case header names separated by ';'");
    }
    if (!auth->signed_headers.empty() && !(auth->signed_headers.back() < name)) {
      return Incomplete("SignedHeaders '" + std::string(list) +
                        "' must be sorted and free of duplicates");
    }
    auth->signed_headers.emplace_back(name);
    if (semicolon == std::string_view::npos) break;
    rest = rest.substr(semicolon + 1);
  }
  return {};
}

bool IsSigned(const SigV4Auth& auth, std::string_view name) {
  return std::binary_search(auth.signed_headers.begin(), auth.signed_headers.end(), name);
}

StsStatus ParseSignature(std::string_view signature, SigV4Auth* auth) {
  if (signature.size() != 64 || !IsLowerHex(signature)) {
    return Incomplete("Signature must be 64 lower-case hexadecimal digits");
  }
  auth->signature = std::string(signature);
  return {};
}

StsStatus SetRequestTime(std::string_view amz_date, SigV4Auth* auth) {
  std::int64_t epoch = 0;
  if (!ParseAmzDate(amz_date, &epoch)) {
    return Incomplete("Date must be in ISO-8601 'basic format'. Got '" + std::string(amz_date) +
                      "'. See http://en.wikipedia.org/wiki/ISO_8601");
  }
  auth->amz_date = std::string(amz_date);
  auth->request_time = epoch;
  return {};
}

StsStatus CheckScopeDate(const SigV4Auth& auth) {
  if (auth.scope_date != std::string_view(auth.amz_date).substr(0, 8)) {
    return Incomplete(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '" +
        auth.scope_date + "' != '" + auth.amz_date.substr(0, 8) + "', from '" + auth.amz_date +
        "'.");
  }
  return {};
}

StsResult<std::optional<std::string_view>> SingleHeader(std::span<const HttpHeaderField> headers,
                                                        std::string_view name_lower,
                                                        std::string_view display_name) {
  const auto values = HeaderValues(headers, name_lower);
  if (values.size() > 1) {
    return Incomplete("The request has more than one '" + std::string(display_name) + "' header");
  }
  if (values.empty()) return std::optional<std::string_view>();
  return std::optional<std::string_view>(values.front());
}

StsResult<SigV4Auth> ParseHeaderAuth(const SignedRequestView& request,
                                     std::string_view authorization) {
  XROLE_ASSIGN_OR_RETURN(const AuthorizationElements elements,
                         SplitAuthorizationHeader(authorization));
  SigV4Auth auth;
  XROLE_RETURN_IF_ERROR(ParseCredential(elements.credential, &auth));
  XROLE_RETURN_IF_ERROR(ParseSignedHeaders(elements.signed_headers, &auth));
  XROLE_RETURN_IF_ERROR(ParseSignature(elements.signature, &auth));
  if (!IsSigned(auth, "host")) {
    return Incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  XROLE_ASSIGN_OR_RETURN(const auto amz_date,
                         SingleHeader(request.headers, "x-amz-date", "X-Amz-Date"));
  if (amz_date) {
    if (!IsSigned(auth, "x-amz-date")) {
      return Incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
    }
    XROLE_RETURN_IF_ERROR(SetRequestTime(Trim(*amz_date), &auth));
  } else {
    XROLE_ASSIGN_OR_RETURN(const auto date, SingleHeader(request.headers, "date", "Date"));
    if (!date) {
      return Incomplete(
          "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
          "header.");
    }
    if (!IsSigned(auth, "date")) {
      return Incomplete("'Date' must be a 'SignedHeader' in the AWS Authorization.");
    }
    std::int64_t epoch = 0;
    if (!ParseHttpDate(*date, &epoch)) {
      return Incomplete("Date header '" + std::string(*date) +
                        "' is not an RFC 7231 date such as 'Sun, 06 Nov 1994 08:49:37 GMT'");
    }
    auth.amz_date = FormatAmzDate(epoch);
    auth.request_time = epoch;
  }
  XROLE_RETURN_IF_ERROR(CheckScopeDate(auth));
  XROLE_ASSIGN_OR_RETURN(const auto token, SingleHeader(request.headers, "x-amz-security-token",
                                                        "X-Amz-Security-Token"));
  if (token) {
    if (!IsSigned(auth, "x-amz-security-token")) {
      return Incomplete(
          "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
    }
    auth.security_token = std::string(Trim(*token));
  }
  return auth;
}

StsResult<SigV4Auth> ParseQueryAuth(const SignedRequestView& request,
                                    const std::vector<QueryParam>& params) {
  std::array<std::optional<std::string_view>, 7> found;
  static constexpr std::array<std::string_view, 7> kNames = {
      "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",          "X-Amz-SignedHeaders",
      "X-Amz-Signature", "X-Amz-Expires",    "X-Amz-Security-Token"};
  for (const auto& param : params) {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (param.name != kNames[i]) continue;
      if (found[i]) {
        return Incomplete("AWS query-string parameter '" + std::string(kNames[i]) +
                          "' appears more than once");
      }
      found[i] = param.value;
    }
  }
  for (std::size_t i = 0; i < 5; ++i) {
    if (!found[i]) {
      return Incomplete("AWS query-string parameters must include '" + std::string(kNames[i]) +
                        "'. Re-examine the query-string parameters.");
    }
  }
  if (*found[0] != kSigV4Algorithm) {
    return Incomplete("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  SigV4Auth auth;
  auth.presigned = true;
  XROLE_RETURN_IF_ERROR(ParseCredential(*found[1], &auth));
  XROLE_RETURN_IF_ERROR(SetRequestTime(*found[2], &auth));
  XROLE_RETURN_IF_ERROR(ParseSignedHeaders(*found[3], &auth));
  XROLE_RETURN_IF_ERROR(ParseSignature(*found[4], &auth));
  if (!IsSigned(auth, "host")) {
    return Incomplete("'Host' must be a 'SignedHeader' in the AWS query-string parameters.");
  }
  XROLE_RETURN_IF_ERROR(CheckScopeDate(auth));
  if (found[5]) {
    const std::string_view expires = *found[5];
    std::int64_t seconds = 0;
    const auto [end, ec] =
        std::from_chars(expires.data(), expires.data() + expires.size(), seconds);
    if (!IsDigits(expires) || ec != std::errc() || end != expires.data() + expires.size() ||
        seconds < 1) {
      return Incomplete("X-Amz-Expires should be a number of seconds from 1 to 604800, got '" +
                        std::string(expires) + "'");
    }
    if (seconds > kMaxPresignedExpiry) {
      return Incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800");
    }
    auth.expires_seconds = seconds;
  }
  if (found[6]) {
    if (!HeaderValues(request.headers, "x-amz-security-token").empty()) {
      return Incomplete(
          "The security token is given both as X-Amz-Security-Token query parameter and header");
    }
    auth.security_token = std::string(*found[6]);
  }
  return auth;
}

std::string FormatDebugDetail(const SigV4Computation& computation) {
  return "The Canonical String for this request should have been\n'" +
         computation.canonical_request + "'\n\nThe String-to-Sign should have been\n'" +
         computation.string_to_sign + "'\n";
}

std::string FormatSkewMinutes(std::int64_t seconds) {
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + " min.";
  return std::to_string(seconds) + " s";
}

StsStatus CheckTime(const SigV4Auth& auth, std::int64_t now, const SigV4VerifyOptions& options) {
  const std::int64_t skew = options.max_clock_skew_seconds;
  if (auth.request_time > now + skew) {
    return StsError{"RequestExpired",
                    "Signature not yet current: " + auth.amz_date + " is still later than " +
                        FormatAmzDate(now + skew) + " (" + FormatAmzDate(now) + " + " +
                        FormatSkewMinutes(skew) + ")",
                    ""};
  }
  if (auth.presigned && auth.expires_seconds > 0) {
    if (now > auth.request_time + auth.expires_seconds) {
      return StsError{"RequestExpired",
                      "Request has expired: the presigned URL signed at " + auth.amz_date +
                          " for " + std::to_string(auth.expires_seconds) + " s expired at " +
                          FormatAmzDate(auth.request_time + auth.expires_seconds),
                      ""};
    }
    return {};
  }
  if (auth.request_time < now - skew) {
    return StsError{"RequestExpired",
                    "Signature expired: " + auth.amz_date + " is now earlier than " +
                        FormatAmzDate(now - skew) + " (" + FormatAmzDate(now) + " - " +
                        FormatSkewMinutes(skew) + ")",
                    ""};
  }
  return {};
}

// The payload hash the signer used, or nullopt when it is taken from the body.
StsResult<std::optional<std::string>> DeclaredPayloadHash(const SignedRequestView& request,
                                                          const SigV4Auth& auth) {
  const auto values = HeaderValues(request.headers, "x-amz-content-sha256");
  if (values.size() > 1) {
    return Incomplete("The request has more than one 'x-amz-content-sha256' header");
  }
  if (!values.empty()) return std::optional<std::string>(std::string(Trim(values.front())));
  if (auth.presigned && auth.service == "s3") {
    return std::optional<std::string>(std::string(kUnsignedPayload));
  }
  return std::optional<std::string>();
}

StsStatus CheckPayload(const SignedRequestView& request, const SigV4Auth& auth,
                       const SigV4VerifyOptions& options) {
  XROLE_ASSIGN_OR_RETURN(const auto declared, DeclaredPayloadHash(request, auth));
  if (!declared) return {};
  if (*declared == kUnsignedPayload || *declared == kStreamingUnsignedTrailer) {
    if (!options.allow_unsigned_payload) {
      return Incomplete("The payload must be signed: '" + *declared +
                        "' is not accepted by this service");
    }
    return {};
  }
  if (declared->size() == 64 && IsLowerHex(AsciiLower(*declared))) {
    if (!crypto::ConstantTimeEquals(AsciiLower(*declared), crypto::Sha256Hex(request.body))) {
      return StsError{"XAmzContentSHA256Mismatch",
                      "The provided 'x-amz-content-sha256' header does not match what was "
                      "computed.",
                      ""};
    }
    return {};
  }
  return Incomplete("x-amz-content-sha256 '" + *declared +
                    "' is not supported: expected the hex SHA-256 of the payload");
}

}  // namespace

std::string SigV4Auth::credential_scope() const {
  return scope_date + "/" + region + "/" + service + "/" + std::string(kTerminator);
}

bool ParseAmzDate(std::string_view text, std::int64_t* epoch_seconds) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return false;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ParseFixedDigits(text.substr(0, 4), &year) || !ParseFixedDigits(text.substr(4, 2), &month) ||
      !ParseFixedDigits(text.substr(6, 2), &day) || !ParseFixedDigits(text.substr(9, 2), &hour) ||
      !ParseFixedDigits(text.substr(11, 2), &minute) ||
      !ParseFixedDigits(text.substr(13, 2), &second)) {
    return false;
  }
  return ToEpoch(year, month, day, hour, minute, second, epoch_seconds);
}

std::string FormatAmzDate(std::int64_t epoch_seconds) {
  std::int64_t days = epoch_seconds / 86400;
  std::int64_t rem = epoch_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // H. Hinnant's civil_from_days.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04lld%02u%02uT%02lld%02lld%02lldZ",
                static_cast<long long>(year), month, day, static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  return buffer;
}

std::string UriEncode(std::string_view bytes, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (IsUnreserved(byte) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

StsResult<std::string> CanonicalUri(std::string_view raw_path, std::string_view service) {
  if (raw_path.empty()) return std::string("/");
  if (service == "s3") return std::string(raw_path);
  // Remove empty and "." segments, resolve "..", keep a trailing slash.
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  std::string_view rest = raw_path;
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    if (last) {
      trailing_slash = segment.empty() || segment == "." || segment == "..";
      break;
    }
    rest = rest.substr(slash + 1);
  }
  std::string uri;
  for (const auto segment : segments) {
    uri += '/';
    uri += UriEncode(segment);
  }
  if (uri.empty() || trailing_slash) uri += '/';
  return uri;
}

StsResult<std::string> CanonicalQuery(std::string_view raw_query, bool presigned) {
  auto params = DecodeQuery(raw_query);
  if (!params) return Incomplete("The query string has a malformed percent-encoding");
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params->size());
  for (const auto& param : *params) {
    if (presigned && param.name == "X-Amz-Signature") continue;
    encoded.emplace_back(UriEncode(param.name), UriEncode(param.value));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string query;
  for (const auto& [name, value] : encoded) {
    if (!query.empty()) query += '&';
    query += name;
    query += '=';
    query += value;
  }
  return query;
}

std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request) {
  std::string text(kSigV4Algorithm);
  text += '\n';
  text += amz_date;
  text += '\n';
  text += credential_scope;
  text += '\n';
  text += crypto::Sha256Hex(canonical_request);
  return text;
}

crypto::Digest SigningKey(std::string_view secret_access_key, std::string_view scope_date,
                          std::string_view region, std::string_view service) {
  const auto as_view = [](const crypto::Digest& digest) {
    return std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size());
  };
  const std::string initial_key = "AWS4" + std::string(secret_access_key);
  const crypto::Digest date_key = crypto::HmacSha256(initial_key, scope_date);
  const crypto::Digest region_key = crypto::HmacSha256(as_view(date_key), region);
  const crypto::Digest service_key = crypto::HmacSha256(as_view(region_key), service);
  return crypto::HmacSha256(as_view(service_key), kTerminator);
}

StsResult<SigV4Computation> ComputeSigV4(const SignedRequestView& request, const SigV4Auth& auth,
                                         std::string_view secret_access_key) {
  SigV4Computation computation;
  std::string& creq = computation.canonical_request;
  creq += request.method;
  creq += '\n';
  XROLE_ASSIGN_OR_RETURN(const std::string uri, CanonicalUri(request.path, auth.service));
  creq += uri;
  creq += '\n';
  XROLE_ASSIGN_OR_RETURN(const std::string query, CanonicalQuery(request.query, auth.presigned));
  creq += query;
  creq += '\n';
  std::string signed_headers;
  for (const auto& name : auth.signed_headers) {
    const auto values = HeaderValues(request.headers, name);
    if (values.empty()) {
      return StsError{"SignatureDoesNotMatch", std::string(kSignatureMismatchMessage),
                      "The signed header '" + name + "' is not present in the request."};
    }
    creq += name;
    creq += ':';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) creq += ',';
      AppendCanonicalHeaderValue(values[i], &creq);
    }
    creq += '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  creq += '\n';
  creq += signed_headers;
  creq += '\n';
  XROLE_ASSIGN_OR_RETURN(const auto declared_hash, DeclaredPayloadHash(request, auth));
  creq += declared_hash ? *declared_hash : crypto::Sha256Hex(request.body);

  computation.string_to_sign = StringToSign(auth.amz_date, auth.credential_scope(), creq);
  const crypto::Digest key =
      SigningKey(secret_access_key, auth.scope_date, auth.region, auth.service);
  const crypto::Digest signature =
      crypto::HmacSha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
                         computation.string_to_sign);
  computation.signature = crypto::HexEncode(
      std::string_view(reinterpret_cast<const char*>(signature.data()), signature.size()));
  return computation;
}

std::string BuildAuthorizationHeader(const SigV4Auth& auth) {
  std::string header(kSigV4Algorithm);
  header +=
      " Credential=" + auth.access_key_id + "/" + auth.credential_scope() + ", SignedHeaders=";
  for (std::size_t i = 0; i < auth.signed_headers.size(); ++i) {
    if (i > 0) header += ';';
    header += auth.signed_headers[i];
  }
  header += ", Signature=" + auth.signature;
  return header;
}

StsResult<SigV4Auth> ParseSigV4(const SignedRequestView& request) {
  const auto authorization = HeaderValues(request.headers, "authorization");
  if (authorization.size() > 1) {
    return Incomplete("The request has more than one 'Authorization' header");
  }
  auto params = DecodeQuery(request.query);
  if (!params) return Incomplete("The query string has a malformed percent-encoding");
  const bool query_auth = std::any_of(params->begin(), params->end(), [](const QueryParam& p) {
    return p.name == "X-Amz-Algorithm" || p.name == "X-Amz-Credential" ||
           p.name == "X-Amz-Signature";
  });
  if (!authorization.empty() && query_auth) {
    return Incomplete(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the "
        "Authorization header should be specified");
  }
  if (!authorization.empty()) return ParseHeaderAuth(request, authorization.front());
  if (query_auth) return ParseQueryAuth(request, *params);
  return StsError{"MissingAuthenticationToken", "Request is missing Authentication Token", ""};
}

StsStatus VerifySigV4(const SignedRequestView& request, const SigV4Auth& auth,
                      std::string_view secret_access_key, std::int64_t now,
                      const SigV4VerifyOptions& options) {
  if (!options.expected_service.empty() && auth.service != options.expected_service) {
    return StsError{
        "SignatureDoesNotMatch",
        "Credential should be scoped to correct service: '" + options.expected_service + "'. ", ""};
  }
  XROLE_RETURN_IF_ERROR(CheckTime(auth, now, options));
  XROLE_RETURN_IF_ERROR(CheckPayload(request, auth, options));
  XROLE_ASSIGN_OR_RETURN(const SigV4Computation computation,
                         ComputeSigV4(request, auth, secret_access_key));
  if (!crypto::ConstantTimeEquals(computation.signature, auth.signature)) {
    return StsError{"SignatureDoesNotMatch", std::string(kSignatureMismatchMessage),
                    FormatDebugDetail(computation)};
  }
  return {};
}

}  // namespace xrole::sts
