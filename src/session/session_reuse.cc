#include "session/session_reuse.h"

#include <string_view>

#include "common/crypto.h"

namespace xrole::session {
namespace {

// Appends `field` length-prefixed, so no two different identities encode alike.
void AppendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

std::string ReuseKey(const ReuseIdentity& identity) {
  std::string encoded = "xrole-session-reuse-v1|";
  AppendField(encoded, identity.requested_by);
  AppendField(encoded, identity.role);
  AppendField(encoded, identity.run_id);
  AppendField(encoded, identity.session_name);
  AppendField(encoded, identity.policy_hash);
  AppendField(encoded, identity.source_identity);
  AppendField(encoded, std::to_string(identity.tags.size()));
  for (const auto& [key, value] : identity.tags) {
    AppendField(encoded, key);
    AppendField(encoded, value);
  }
  AppendField(encoded, std::to_string(identity.transitive_tag_keys.size()));
  for (const auto& key : identity.transitive_tag_keys) AppendField(encoded, key);
  return crypto::Sha256Hex(encoded);
}

bool MayReuseUntil(std::int64_t expires_at, std::int64_t new_expires_at, std::int64_t now) {
  if (expires_at <= now || expires_at > new_expires_at) return false;
  if (expires_at == new_expires_at) return true;
  std::int64_t left = expires_at - now;
  if (left > kReuseMarginSeconds) return true;
  return new_expires_at - now <= kReuseMarginSeconds && left > kReuseMinimumSeconds;
}

}  // namespace xrole::session
