#include "session/token.h"

#include <ctime>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace xrole::session {
namespace {

constexpr std::string_view kPrefix = "xrt1.";
// Far above any token IssueToken produces; bounds the work done on hostile input.
constexpr std::size_t kMaxTokenBytes = 8192;

Error Malformed(std::string_view problem) {
  return Error(ErrorCode::kUnauthenticated, "malformed token: " + std::string(problem));
}

std::string FormatUtc(std::int64_t epoch_s) {
  const auto t = static_cast<std::time_t>(epoch_s);
  std::tm tm{};
  char text[32];
  if (gmtime_r(&t, &tm) == nullptr ||
      std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(epoch_s);
  }
  return text;
}

// The claims, in the order IssueToken writes them.
enum Claim : unsigned {
  kKeyId,
  kSessionId,
  kRole,
  kRunId,
  kAgent,
  kAccessKeyId,
  kPolicyHash,
  kIssuedAt,
  kExpiresAt,
  kClaimCount,
  kUnknownClaim = kClaimCount,
};
constexpr const char* kClaimNames[kClaimCount] = {"kid",  "sid", "role", "run", "agt",
                                                  "akid", "ph",  "iat",  "exp"};

// Reads the payload JSON straight into TokenClaims with nlohmann's SAX interface (no DOM).
// Accepts exactly one flat object; every known claim must appear once with its type (strings,
// or integers for iat/exp). Unknown scalar members are ignored.
class ClaimsReader {
 public:
  using number_integer_t = nlohmann::json::number_integer_t;
  using number_unsigned_t = nlohmann::json::number_unsigned_t;
  using number_float_t = nlohmann::json::number_float_t;
  using string_t = nlohmann::json::string_t;
  using binary_t = nlohmann::json::binary_t;

  explicit ClaimsReader(TokenClaims* claims) : claims_(claims) {}

  bool start_object(std::size_t) { return depth_++ == 0; }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) { return false; }
  bool end_array() { return false; }

  bool key(string_t& name) {
    current_ = kUnknownClaim;
    for (unsigned i = 0; i < kClaimCount; ++i) {
      if (name == kClaimNames[i]) current_ = static_cast<Claim>(i);
    }
    if (current_ == kUnknownClaim) return true;
    const unsigned bit = 1u << current_;
    if ((seen_ & bit) != 0) return false;  // duplicate claim
    seen_ |= bit;
    return true;
  }

  bool string(string_t& value) {
    if (depth_ != 1) return false;
    std::string* field = StringField();
    if (field != nullptr) *field = std::move(value);
    return field != nullptr || current_ == kUnknownClaim;
  }
  bool number_integer(number_integer_t value) { return Integer(value); }
  bool number_unsigned(number_unsigned_t value) {
    if (depth_ != 1) return false;
    if (value > static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max())) {
      return current_ == kUnknownClaim;
    }
    return Integer(static_cast<std::int64_t>(value));
  }
  bool number_float(number_float_t, const string_t&) { return UnknownScalar(); }
  bool boolean(bool) { return UnknownScalar(); }
  bool null() { return UnknownScalar(); }
  bool binary(binary_t&) { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  // The first claim that did not appear, or nullptr when all did.
  const char* MissingClaim() const {
    for (unsigned i = 0; i < kClaimCount; ++i) {
      if ((seen_ & (1u << i)) == 0) return kClaimNames[i];
    }
    return nullptr;
  }

 private:
  std::string* StringField() const {
    switch (current_) {
      case kKeyId:
        return &claims_->key_id;
      case kSessionId:
        return &claims_->session_id;
      case kRole:
        return &claims_->role;
      case kRunId:
        return &claims_->run_id;
      case kAgent:
        return &claims_->agent;
      case kAccessKeyId:
        return &claims_->access_key_id;
      case kPolicyHash:
        return &claims_->policy_hash;
      default:
        return nullptr;
    }
  }

  bool UnknownScalar() const { return depth_ == 1 && current_ == kUnknownClaim; }

  bool Integer(std::int64_t value) {
    if (depth_ != 1) return false;
    if (current_ == kIssuedAt) {
      claims_->issued_at = value;
    } else if (current_ == kExpiresAt) {
      claims_->expires_at = value;
    } else {
      return current_ == kUnknownClaim;
    }
    return true;
  }

  TokenClaims* claims_;
  int depth_ = 0;
  Claim current_ = kUnknownClaim;
  unsigned seen_ = 0;
};

}  // namespace

std::string IssueToken(const TokenClaims& claims, const crypto::Ed25519PrivateKey& key) {
  const nlohmann::ordered_json payload = {
      {kClaimNames[kKeyId], claims.key_id},
      {kClaimNames[kSessionId], claims.session_id},
      {kClaimNames[kRole], claims.role},
      {kClaimNames[kRunId], claims.run_id},
      {kClaimNames[kAgent], claims.agent},
      {kClaimNames[kAccessKeyId], claims.access_key_id},
      {kClaimNames[kPolicyHash], claims.policy_hash},
      {kClaimNames[kIssuedAt], claims.issued_at},
      {kClaimNames[kExpiresAt], claims.expires_at},
  };
  // Invalid UTF-8 in a claim is replaced (U+FFFD) instead of throwing; callers pass names
  // that were validated long before they reach a token.
  std::string token(kPrefix);
  token += crypto::Base64UrlEncode(
      payload.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  const std::string signature = key.Sign(token);
  token += '.';
  token += crypto::Base64UrlEncode(signature);
  return token;
}

Result<TokenClaims> VerifyToken(std::string_view token, const PublicKeyLookup& lookup,
                                std::int64_t now_s) {
  // Shape: "xrt1." payload "." signature.
  if (token.size() > kMaxTokenBytes) return Malformed("too long");
  if (token.substr(0, kPrefix.size()) != kPrefix) return Malformed("expected prefix `xrt1.`");
  const std::size_t dot = token.find('.', kPrefix.size());
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    return Malformed("expected three `.`-separated parts");
  }
  const std::string_view signed_part = token.substr(0, dot);
  auto payload = crypto::Base64UrlDecode(signed_part.substr(kPrefix.size()));
  if (!payload.ok()) return Malformed("payload is not base64url");
  auto signature = crypto::Base64UrlDecode(token.substr(dot + 1));
  if (!signature.ok() || signature->size() != 64) {
    return Malformed("signature is not 64 base64url-encoded bytes");
  }

  TokenClaims claims;
  ClaimsReader reader(&claims);
  bool parsed = false;
  try {
    parsed = nlohmann::json::sax_parse(*payload, &reader, nlohmann::json::input_format_t::json,
                                       /*strict=*/true);
  } catch (const std::exception&) {  // defensive: the SAX interface reports, not throws
    parsed = false;
  }
  if (!parsed) return Malformed("payload is not a flat JSON object of claims");
  if (const char* missing = reader.MissingClaim()) {
    return Malformed("missing claim `" + std::string(missing) + "`");
  }

  const std::string* public_key = lookup(claims.key_id);
  if (public_key == nullptr) {
    return Error(ErrorCode::kUnauthenticated, "unknown signing key `" + claims.key_id + "`");
  }
  if (!crypto::Ed25519Verify(*public_key, signed_part, *signature)) {
    return Error(ErrorCode::kUnauthenticated, "token signature does not verify");
  }
  if (claims.expires_at <= now_s) {
    return Error(ErrorCode::kExpired, "token expired at " + FormatUtc(claims.expires_at));
  }
  return claims;
}

}  // namespace xrole::session
