#include "common/strings.h"
#include "xrole/policy.h"

namespace xrole::policy {

std::string_view PolicyKindName(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kIdentity:
      return "identity";
    case PolicyKind::kResource:
      return "resource";
    case PolicyKind::kTrust:
      return "trust";
    case PolicyKind::kBoundary:
      return "boundary";
    case PolicyKind::kSession:
      return "session";
    case PolicyKind::kScp:
      return "scp";
    case PolicyKind::kRcp:
      return "rcp";
  }
  return "identity";
}

std::string_view EffectName(Effect effect) { return effect == Effect::kAllow ? "Allow" : "Deny"; }

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAllowed:
      return "Allowed";
    case Decision::kExplicitlyDenied:
      return "ExplicitlyDenied";
    case Decision::kImplicitlyDenied:
      return "ImplicitlyDenied";
  }
  return "ImplicitlyDenied";
}

std::string_view LayerName(Layer layer) {
  switch (layer) {
    case Layer::kNone:
      return "none";
    case Layer::kRcp:
      return "rcp";
    case Layer::kScp:
      return "scp";
    case Layer::kResource:
      return "resource";
    case Layer::kIdentity:
      return "identity";
    case Layer::kBoundary:
      return "boundary";
    case Layer::kSession:
      return "session";
  }
  return "none";
}

Semantics Semantics::OracleCompatible() {
  Semantics s;
  s.direct_resource_grant_bypasses_session_policy = false;
  s.unresolved_variable_matches_negated_operator = false;
  s.trust_direct_grant_needs_boundary = false;
  s.oracle_short_arn_padding = true;
  s.oracle_resource_type_prefix = true;
  s.not_principal_exempts_any_match = true;
  s.account_principal_is_direct_for_root = false;
  s.unresolved_not_resource_never_applies = true;
  s.service_wide_arn_covers_resourceless_actions = false;
  s.variables_in_2008_documents = true;
  s.variable_escapes_in_string_equals = false;
  s.empty_variable_value_substitutes = false;
  s.epoch_dates_in_milliseconds = true;
  s.four_digit_date_is_year = false;
  s.oracle_ip_quirks = true;
  s.negated_operators_fail_on_unparsable_values = true;
  s.single_empty_string_is_empty_set = false;
  s.federated_user_requires_session_policy = false;
  s.rcps_only_for_supported_services = false;
  s.root_has_implicit_full_access = false;
  s.kms_key_without_key_policy_denies = true;
  s.null_treats_empty_as_absent = false;
  return s;
}

void Context::Set(std::string_view key, ContextValue value) {
  values_.insert_or_assign(AsciiLower(key), std::move(value));
}

const ContextValue* Context::Find(std::string_view key_lower) const {
  auto it = values_.find(key_lower);
  if (it != values_.end()) return &it->second;
  return fallback_ == nullptr ? nullptr : fallback_->Find(key_lower);
}

}  // namespace xrole::policy
