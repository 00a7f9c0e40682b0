// session_reuse.h: when an assume may hand out a session the caller already holds instead of
// issuing a new one (docs/sdk-credentials.md). AWS SDKs refresh credentials that have less than
// 15 minutes left before every call, and a credential provider (credential_process, the
// container-credentials endpoint) asks the broker on every refresh; without reuse each SDK call
// would mint a new session, an audit record and a token.
//
// Contract: a session is reusable for a request only if it was issued to the same caller for
// the same role, run, session name, role version and session policy (the `policy_hash` a new
// session would get), tags, transitive tag keys and source identity, without a parent session,
// and signed by the current signing key (so the re-signed token is byte-identical to the one
// first issued). Its timing must satisfy MayReuseUntil. Liveness (revocation, run end, parent)
// is the broker's to check; nothing here reads state or secrets.
#ifndef XROLE_SESSION_SESSION_REUSE_H_
#define XROLE_SESSION_SESSION_REUSE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace xrole::session {

// SDKs refresh credentials with less than 15 minutes left; one more minute covers clock skew
// and the time a request spends in flight.
inline constexpr std::int64_t kSdkRefreshWindowSeconds = 15 * 60;
inline constexpr std::int64_t kReuseMarginSeconds = kSdkRefreshWindowSeconds + 60;
// A session closer than this to its end is never handed out again, unless a new one would end
// at the same moment anyway.
inline constexpr std::int64_t kReuseMinimumSeconds = 60;

// The session lifetime SDK credential providers ask for when none is given: an hour keeps
// a session outside the SDKs' refresh window for 44 minutes (the role's maximum and the run's
// end still clamp it).
inline constexpr std::int64_t kProviderSessionSeconds = 3600;

// What identifies the session an assume asks for.
struct ReuseIdentity {
  std::string requested_by;  // Caller::Describe() of the caller
  std::string role;
  std::string run_id;
  std::string session_name;
  std::string policy_hash;  // role version and session policy, as SessionRecord::policy_hash
  std::map<std::string, std::string> tags;
  std::vector<std::string> transitive_tag_keys;  // sorted, without duplicates
  std::string source_identity;
};

// A collision-resistant key of `identity` (hex SHA-256 of an unambiguous encoding).
std::string ReuseKey(const ReuseIdentity& identity);

// Whether a live session ending at `expires_at` may be handed out at `now` in place of a new
// one that would end at `new_expires_at`:
//  - never one that ends later than a new session would (no longer than asked for);
//  - yes when a new session would end at the same moment (the run's end clamps both);
//  - yes while more than kReuseMarginSeconds remain (outside the SDKs' refresh window);
//  - when no new session could last beyond the margin either (a short role maximum or the
//    run's end), yes until its last kReuseMinimumSeconds.
bool MayReuseUntil(std::int64_t expires_at, std::int64_t new_expires_at, std::int64_t now);

}  // namespace xrole::session

#endif  // XROLE_SESSION_SESSION_REUSE_H_
