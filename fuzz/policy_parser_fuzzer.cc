// Fuzzes the JSON reader and the policy parser: arbitrary bytes must never crash, hang or trip
// a sanitizer, for every PolicyKind, and every rejection must carry a message. Accepted
// documents must be internally consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "policy/document.h"
#include "policy/parser.h"
#include "xrole/policy.h"

namespace {

constexpr xrole::policy::PolicyKind kKinds[] = {
    xrole::policy::PolicyKind::kIdentity, xrole::policy::PolicyKind::kResource,
    xrole::policy::PolicyKind::kTrust,    xrole::policy::PolicyKind::kBoundary,
    xrole::policy::PolicyKind::kSession,  xrole::policy::PolicyKind::kScp,
    xrole::policy::PolicyKind::kRcp};

void CheckDocument(const xrole::policy::PolicyDocument& doc, xrole::policy::PolicyKind kind) {
  if (doc.kind != kind || doc.statements.empty()) std::abort();
  for (const xrole::policy::Statement& s : doc.statements) {
    if (s.path.empty()) std::abort();
    for (const xrole::policy::ConditionClause& c : s.conditions) {
      if (c.key_lower.size() != c.key.size()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto root = xrole::json::Parse(text);
  if (!root.ok()) {
    if (root.error().message().empty()) std::abort();
    return 0;
  }
  (void)(*root)->ToJson();
  for (xrole::policy::PolicyKind kind : kKinds) {
    auto doc = xrole::policy::ParseDocument(**root, kind);
    if (!doc.ok()) {
      if (doc.error().message().empty()) std::abort();
    } else {
      CheckDocument(**doc, kind);
    }
    auto policy = xrole::policy::ParsePolicy(text, kind);
    if (!policy.ok() && policy.error().message().empty()) std::abort();
  }
  return 0;
}
