// reference_evaluator.cc: the reference evaluator. It walks the policy documents directly, with
// no index and nothing computed ahead, following docs/evaluation-logic.md step by step, and the
// condition rules of iam-semantics.md 3.4-3.7 literally. It is never optimised: it is the spec in
// code, and the compiled evaluator (evaluator.cc) is tested against it. It shares with the
// compiled evaluator only the leaf primitives (glob, ARN fields, typed value parsers, principal
// matching), which have their own tests.
#include <algorithm>
#include <string>
#include <vector>

#include "common/strings.h"
#include "policy/arn.h"
#include "policy/aws_services.h"
#include "policy/document.h"
#include "policy/glob.h"
#include "policy/operators.h"
#include "policy/principal.h"
#include "policy/values.h"
#include "policy/variables.h"
#include "xrole/policy.h"

namespace xrole::policy {
namespace {

// Everything one evaluation needs to know besides the statement at hand.
struct Env {
  const Request& request;
  const Semantics& semantics;
  Caller caller;
  std::string action_service;  // lower-case prefix of the requested action
  bool resourceless = false;   // the request names no resource ("" or "*")
  bool caller_has_boundary = false;
};

bool VariablesEnabled(const PolicyDocument& doc, const Semantics& semantics) {
  return doc.version == PolicyVersion::k2012 || semantics.variables_in_2008_documents;
}

// ---- Action (iam-semantics 2.2) ----

bool ActionPatternMatches(std::string_view pattern, std::string_view action) {
  if (pattern == "*") return true;
  auto pc = pattern.find(':');
  auto ac = action.find(':');
  if (pc == std::string_view::npos || ac == std::string_view::npos) return false;
  if (AsciiLower(pattern.substr(0, pc)) != AsciiLower(action.substr(0, ac))) return false;
  std::string_view name = pattern.substr(pc + 1);
  if (name.empty() || name.find_first_of(" \t\r\n") != std::string_view::npos) return false;
  return GlobMatch(name, action.substr(ac + 1), /*ignore_case=*/true);
}

bool ActionApplies(const Statement& st, const Env& env) {
  bool any = std::any_of(st.actions.begin(), st.actions.end(), [&](const std::string& p) {
    return ActionPatternMatches(p, env.request.action);
  });
  return st.not_action ? !any : any;
}

// ---- Resource (2.3-2.5) ----

bool ResourceApplies(const Statement& st, const PolicyDocument& doc, const Env& env) {
  if (!st.resources) return true;  // trust policies: the role itself is the resource
  bool any = false, unresolved = false;
  for (const std::string& entry : *st.resources) {
    ResourcePattern pattern = ResourcePattern::Compile(entry, VariablesEnabled(doc, env.semantics));
    ResourcePattern::Outcome outcome =
        env.resourceless
            ? pattern.MatchResourceless(env.action_service, env.request.context, env.semantics)
            : pattern.Match(env.request.resource, env.request.context, env.semantics);
    if (outcome == ResourcePattern::Outcome::kMatch) any = true;
    if (outcome == ResourcePattern::Outcome::kUnresolved) unresolved = true;
  }
  if (!st.not_resource) return any;
  if (unresolved && env.semantics.unresolved_not_resource_never_applies) return false;
  return !any;
}

// ---- Conditions (3.4-3.7) ----

// Whether request value `x` satisfies the positive operator `op` against policy value `p`.
// nullopt: `p` holds a policy variable that cannot be resolved.
std::optional<bool> PositiveCompare(BaseOperator op, bool negated_clause, std::string_view x,
                                    const std::string& p, bool variables, const Env& env) {
  const Semantics& sem = env.semantics;
  const Context& ctx = env.request.context;
  switch (op) {
    case BaseOperator::kStringEquals:
    case BaseOperator::kStringEqualsIgnoreCase:
    case BaseOperator::kBool: {
      std::string value;
      if (!Template::Parse(p, variables)
               .ExpandToText(ctx, &value, !sem.variable_escapes_in_string_equals,
                             !sem.empty_variable_value_substitutes)) {
        return std::nullopt;
      }
      if (op == BaseOperator::kStringEquals) return x == value;
      if (op == BaseOperator::kStringEqualsIgnoreCase) return AsciiLower(x) == AsciiLower(value);
      auto a = ParseBool(x), b = ParseBool(value);
      return a && b && *a == *b;
    }
    case BaseOperator::kStringLike: {
      Glob glob;
      if (!Template::Parse(p, variables)
               .ExpandToGlob(ctx, &glob, !sem.empty_variable_value_substitutes)) {
        return std::nullopt;
      }
      return glob.Matches(x);
    }
    case BaseOperator::kNumericEquals:
    case BaseOperator::kNumericLessThan:
    case BaseOperator::kNumericLessThanEquals:
    case BaseOperator::kNumericGreaterThan:
    case BaseOperator::kNumericGreaterThanEquals: {
      auto a = ParseNumber(x), b = ParseNumber(p);
      if (!a || !b) return negated_clause && sem.negated_operators_fail_on_unparsable_values;
      if (op == BaseOperator::kNumericEquals) return *a == *b;
      if (op == BaseOperator::kNumericLessThan) return *a < *b;
      if (op == BaseOperator::kNumericLessThanEquals) return *a <= *b;
      if (op == BaseOperator::kNumericGreaterThan) return *a > *b;
      return *a >= *b;
    }
    case BaseOperator::kDateEquals:
    case BaseOperator::kDateLessThan:
    case BaseOperator::kDateLessThanEquals:
    case BaseOperator::kDateGreaterThan:
    case BaseOperator::kDateGreaterThanEquals: {
      auto a = ParseDateMillis(x, sem.epoch_dates_in_milliseconds, sem.four_digit_date_is_year);
      auto b = ParseDateMillis(p, sem.epoch_dates_in_milliseconds, sem.four_digit_date_is_year);
      if (!a || !b) return negated_clause && sem.negated_operators_fail_on_unparsable_values;
      if (op == BaseOperator::kDateEquals) return *a == *b;
      if (op == BaseOperator::kDateLessThan) return *a < *b;
      if (op == BaseOperator::kDateLessThanEquals) return *a <= *b;
      if (op == BaseOperator::kDateGreaterThan) return *a > *b;
      return *a >= *b;
    }
    case BaseOperator::kBinaryEquals: {
      auto a = DecodeBase64(x), b = DecodeBase64(p);
      return a && b && *a == *b;
    }
    case BaseOperator::kIpAddress: {
      auto network = ParseIpNetwork(p);
      auto address = ParseIpAddress(x);
      // The oracle: NotIpAddress is false for a value that is not an address or network.
      if (!network || !address) return negated_clause && sem.oracle_ip_quirks;
      if (sem.oracle_ip_quirks) {
        if (negated_clause && network->address.v6 && !network->prefix_given && !address->v6) {
          return true;  // NotIpAddress with a bare IPv6 value is false for an IPv4 caller
        }
        if (network->address.v6 && !network->prefix_given) return x == p;
        if (!network->address.v6 && network->prefix == 0) {
          return !address->v6 && address->bytes == network->address.bytes;
        }
        if (negated_clause && !network->address.v6 && !network->prefix_given && address->v6) {
          return true;  // NotIpAddress with a bare IPv4 value is false for an IPv6 caller
        }
      }
      return NetworkContains(*network, *address);
    }
    case BaseOperator::kArnEquals:
    case BaseOperator::kArnLike: {
      // A value that is not an ARN matches no pattern; under the oracle's semantics it counts
      // as a match for a negated operator, so the negation fails.
      const bool not_arn_hit = negated_clause && sem.negated_operators_fail_on_unparsable_values;
      ArnFields value = SplitArn(x);
      if (value.count != 6 || value.field[0] != "arn") return not_arn_hit;
      ArnFields pattern = SplitArn(p, /*brace_aware=*/true);
      if (pattern.count != 6) return not_arn_hit;
      for (int i = 0; i < 6; ++i) {
        Glob glob;
        if (!Template::Parse(pattern.field[i], variables)
                 .ExpandToGlob(ctx, &glob, !sem.empty_variable_value_substitutes)) {
          return std::nullopt;
        }
        if (!glob.Matches(value.field[i])) return false;
      }
      return true;
    }
    default:
      return false;  // negated and Null operators never reach here
  }
}

// m(x): OR over the policy values for a positive operator, NOR for a negated one.
bool ValueSatisfies(const ConditionClause& c, std::string_view x, bool variables, const Env& env) {
  bool negated = IsNegatedOperator(c.op);
  BaseOperator positive = PositiveOperatorOf(c.op);
  bool any_positive = false;
  for (const std::string& p : c.values) {
    std::optional<bool> hit = PositiveCompare(positive, negated, x, p, variables, env);
    if (!hit) {
      // Unresolved variable: a positive operator's value never matches; a negated operator
      // "matches" per the docs (the value counts as no positive hit), or never, per the oracle.
      hit = negated && !env.semantics.unresolved_variable_matches_negated_operator;
    }
    if (*hit) any_positive = true;
  }
  return negated ? !any_positive : any_positive;
}

bool IsEmptySet(const ContextValue& v, const Semantics& sem) {
  if (v.values.empty()) return true;
  return sem.single_empty_string_is_empty_set && v.values.size() == 1 && v.values[0].empty();
}

bool ClauseHolds(const ConditionClause& c, bool variables, const Env& env) {
  const ContextValue* v = env.request.context.Find(c.key_lower);
  if (c.op == BaseOperator::kNull) {
    bool present = v != nullptr;
    if (present && env.semantics.null_treats_empty_as_absent &&
        (v->values.empty() || (v->values.size() == 1 && v->values[0].empty()))) {
      present = false;
    }
    // "true": the key must be absent; "false": it must be present. OR over the values.
    return std::any_of(c.values.begin(), c.values.end(), [&](const std::string& p) {
      auto want_absent = ParseBool(p);
      return want_absent && *want_absent == !present;
    });
  }
  if (c.set == SetQualifier::kForAllValues) {
    if (v == nullptr || IsEmptySet(*v, env.semantics)) return true;
    return std::all_of(v->values.begin(), v->values.end(),
                       [&](const std::string& x) { return ValueSatisfies(c, x, variables, env); });
  }
  if (c.set == SetQualifier::kForAnyValue) {
    if (v == nullptr || IsEmptySet(*v, env.semantics)) return false;
    return std::any_of(v->values.begin(), v->values.end(),
                       [&](const std::string& x) { return ValueSatisfies(c, x, variables, env); });
  }
  if (v == nullptr) return c.if_exists || IsNegatedOperator(c.op);
  if (v->is_list) return false;  // 3.7: a list never satisfies an operator without a qualifier
  if (v->values.size() != 1) return false;
  return ValueSatisfies(c, v->values[0], variables, env);
}

bool ConditionsHold(const Statement& st, const PolicyDocument& doc, const Env& env) {
  bool variables = VariablesEnabled(doc, env.semantics);
  return std::all_of(st.conditions.begin(), st.conditions.end(),
                     [&](const ConditionClause& c) { return ClauseHolds(c, variables, env); });
}

// ---- Statements and layers ----

struct Applicable {
  Layer layer;
  std::string label;
  const Policy* policy;
  const Statement* statement;
  PrincipalMatch strength;  // resource/RCP statements; kDirect for the other layers
};

// The principal test (resource and RCP statements). nullopt: the statement does not apply.
std::optional<PrincipalMatch> PrincipalApplies(const Statement& st, const Env& env) {
  if (!st.principal) return std::nullopt;  // E54: no principal element, never applies
  if (st.not_principal) {
    if (NotPrincipalExempts(*st.principal, env.caller, env.caller_has_boundary, env.semantics)) {
      return std::nullopt;
    }
    return PrincipalMatch::kDirect;
  }
  PrincipalMatch m = MatchPrincipal(*st.principal, env.caller, env.semantics);
  if (m == PrincipalMatch::kNoMatch) return std::nullopt;
  return m;
}

void CollectFromPolicy(Layer layer, const std::string& label, const Policy& policy, const Env& env,
                       std::vector<Applicable>* out) {
  const PolicyDocument& doc = policy.document();
  bool principal_test = layer == Layer::kResource || layer == Layer::kRcp;
  for (const Statement& st : doc.statements) {
    PrincipalMatch strength = PrincipalMatch::kDirect;
    if (principal_test) {
      auto m = PrincipalApplies(st, env);
      if (!m) continue;
      strength = *m;
    }
    if (ActionApplies(st, env) && ResourceApplies(st, doc, env) && ConditionsHold(st, doc, env)) {
      out->push_back({layer, label, &policy, &st, strength});
    }
  }
}

Reason ToReason(const Applicable& a) {
  Reason r;
  r.layer = a.layer;
  r.policy = a.label;
  r.name = a.policy->name();
  r.statement = a.statement->index;
  r.sid = a.statement->sid.value_or("");
  r.effect = a.statement->effect;
  return r;
}

bool HasEffect(const std::vector<Applicable>& in, Layer layer, Effect effect) {
  return std::any_of(in.begin(), in.end(), [&](const Applicable& a) {
    return a.layer == layer && a.statement->effect == effect;
  });
}

std::string Index(std::size_t i) { return "[" + std::to_string(i) + "]"; }

EvaluationResult Deny(Decision decision, Layer layer, std::vector<std::string> explanation) {
  EvaluationResult r;
  r.decision = decision;
  r.denied_by = layer;
  r.explanation = std::move(explanation);
  return r;
}

}  // namespace

EvaluationResult EvaluateReference(const PolicySet& set, const Request& request,
                                   const Semantics& semantics, bool explain) {
  Env env{request, semantics, ParseCaller(request), "", false, false};
  auto colon = request.action.find(':');
  env.action_service = AsciiLower(request.action.substr(0, colon == std::string::npos ? 0 : colon));
  env.resourceless = request.resource.empty() || request.resource == "*";
  const bool principal_side =
      env.caller.kind != Caller::Kind::kAnonymous && env.caller.kind != Caller::Kind::kService;
  const bool is_root = env.caller.kind == Caller::Kind::kRoot;
  const bool root_full_access = is_root && semantics.root_has_implicit_full_access;
  env.caller_has_boundary = principal_side && !is_root && !set.boundaries.empty();
  std::vector<std::string> steps;
  auto note = [&](std::string line) {
    if (explain) steps.push_back(std::move(line));
  };

  // Step 0: GetCallerIdentity needs no permission and cannot be denied.
  if (env.caller.kind != Caller::Kind::kAnonymous && IsGetCallerIdentity(request.action)) {
    note("sts:GetCallerIdentity is always allowed for an authenticated caller");
    EvaluationResult r;
    r.decision = Decision::kAllowed;
    r.explanation = std::move(steps);
    return r;
  }

  const bool scps_apply = set.scps.has_value() && principal_side;
  const bool rcps_apply = set.rcps.has_value() && (!semantics.rcps_only_for_supported_services ||
                                                   RcpSupportsService(env.action_service));

  // Every applicable statement of every layer that applies to this caller, in layer order.
  std::vector<Applicable> applicable;
  if (rcps_apply) {
    for (std::size_t l = 0; l < set.rcps->size(); ++l) {
      for (std::size_t i = 0; i < (*set.rcps)[l].size(); ++i) {
        CollectFromPolicy(Layer::kRcp, "rcp" + Index(l) + Index(i), (*set.rcps)[l][i], env,
                          &applicable);
      }
    }
  }
  if (scps_apply) {
    for (std::size_t l = 0; l < set.scps->size(); ++l) {
      for (std::size_t i = 0; i < (*set.scps)[l].size(); ++i) {
        CollectFromPolicy(Layer::kScp, "scp" + Index(l) + Index(i), (*set.scps)[l][i], env,
                          &applicable);
      }
    }
  }
  if (set.resource)
    CollectFromPolicy(Layer::kResource, "resource", *set.resource, env, &applicable);
  if (principal_side) {
    for (std::size_t i = 0; i < set.identity.size(); ++i) {
      CollectFromPolicy(Layer::kIdentity, "identity" + Index(i), set.identity[i], env, &applicable);
    }
    if (!is_root) {
      for (std::size_t i = 0; i < set.boundaries.size(); ++i) {
        CollectFromPolicy(Layer::kBoundary, "boundary" + Index(i), set.boundaries[i], env,
                          &applicable);
      }
      for (std::size_t i = 0; i < set.session.size(); ++i) {
        CollectFromPolicy(Layer::kSession, "session" + Index(i), set.session[i], env, &applicable);
      }
    }
  }

  // Step 1: explicit deny anywhere.
  EvaluationResult result;
  for (const Applicable& a : applicable) {
    if (a.statement->effect == Effect::kDeny) result.reasons.push_back(ToReason(a));
  }
  if (!result.reasons.empty()) {
    note("explicit deny by " + std::to_string(result.reasons.size()) + " statement(s)");
    result.decision = Decision::kExplicitlyDenied;
    result.explanation = std::move(steps);
    return result;
  }

  // Steps 2-3: every organisation level must allow.
  auto every_level_allows = [&](Layer layer, const std::vector<std::vector<Policy>>& levels) {
    for (const auto& level : levels) {
      bool allowed = false;
      for (const Applicable& a : applicable) {
        if (a.layer != layer) continue;
        for (const Policy& p : level) allowed = allowed || a.policy == &p;
      }
      if (!allowed) return false;
    }
    return true;
  };
  if (rcps_apply && !every_level_allows(Layer::kRcp, *set.rcps)) {
    note("an RCP level has no applicable Allow");
    return Deny(Decision::kImplicitlyDenied, Layer::kRcp, std::move(steps));
  }
  if (scps_apply && !every_level_allows(Layer::kScp, *set.scps)) {
    note("an SCP level has no applicable Allow");
    return Deny(Decision::kImplicitlyDenied, Layer::kScp, std::move(steps));
  }

  PrincipalMatch resource_best = PrincipalMatch::kNoMatch;
  for (const Applicable& a : applicable) {
    if (a.layer == Layer::kResource) resource_best = std::max(resource_best, a.strength);
  }
  const bool identity_allows =
      root_full_access || HasEffect(applicable, Layer::kIdentity, Effect::kAllow);
  const bool boundary_ok =
      !env.caller_has_boundary || HasEffect(applicable, Layer::kBoundary, Effect::kAllow);
  const bool session_ok =
      is_root || (set.session.empty() ? !(env.caller.kind == Caller::Kind::kFederatedUser &&
                                          semantics.federated_user_requires_session_policy)
                                      : HasEffect(applicable, Layer::kSession, Effect::kAllow));
  auto allowed = [&]() {
    EvaluationResult r;
    r.decision = Decision::kAllowed;
    for (const Applicable& a : applicable) r.reasons.push_back(ToReason(a));
    note("allowed");
    r.explanation = std::move(steps);
    return r;
  };

  // Step 4: service principals and anonymous callers have only the resource policy.
  if (!principal_side) {
    if (resource_best == PrincipalMatch::kNoMatch) {
      note("no resource-policy Allow for a caller without identity policies");
      return Deny(Decision::kImplicitlyDenied, Layer::kResource, std::move(steps));
    }
    return allowed();
  }

  std::string resource_account = request.resource_account;
  if (resource_account.empty()) resource_account = std::string(ArnAccount(request.resource));
  if (resource_account.empty()) resource_account = env.caller.account;

  // Step 5: cross-account, both accounts must allow.
  if (resource_account != env.caller.account) {
    note("cross-account: resource account " + resource_account + ", caller account " +
         env.caller.account);
    if (resource_best == PrincipalMatch::kNoMatch) {
      return Deny(Decision::kImplicitlyDenied, Layer::kResource, std::move(steps));
    }
    if (!identity_allows)
      return Deny(Decision::kImplicitlyDenied, Layer::kIdentity, std::move(steps));
    if (!boundary_ok) return Deny(Decision::kImplicitlyDenied, Layer::kBoundary, std::move(steps));
    if (!session_ok) return Deny(Decision::kImplicitlyDenied, Layer::kSession, std::move(steps));
    return allowed();
  }

  // Explicit trust applies when the case gives the resource's policy (an absent policy does not
  // apply), except that the oracle never trusts a KMS key without a key policy.
  const bool explicit_trust =
      NeedsExplicitTrust(env.action_service, request.resource) &&
      (set.resource.has_value() ||
       (semantics.kms_key_without_key_policy_denies && env.action_service == "kms"));

  // Step 6: the root user in its own account.
  if (root_full_access) {
    if (explicit_trust && resource_best < PrincipalMatch::kAccountLevel) {
      note("the resource policy does not trust the account");
      return Deny(Decision::kImplicitlyDenied, Layer::kResource, std::move(steps));
    }
    return allowed();
  }

  // Step 7: same account.
  if (resource_best == PrincipalMatch::kDirect) {
    note("the resource policy names the caller directly");
    if (IsAssumeRoleAction(request.action) && semantics.trust_direct_grant_needs_boundary &&
        !boundary_ok) {
      return Deny(Decision::kImplicitlyDenied, Layer::kBoundary, std::move(steps));
    }
    if (!semantics.direct_resource_grant_bypasses_session_policy && !session_ok) {
      return Deny(Decision::kImplicitlyDenied, Layer::kSession, std::move(steps));
    }
    return allowed();
  }
  const bool identity_counts =
      identity_allows && (!explicit_trust || resource_best >= PrincipalMatch::kAccountLevel);
  if (!identity_counts && resource_best != PrincipalMatch::kViaRoleOrUser) {
    Layer layer = explicit_trust && identity_allows ? Layer::kResource : Layer::kIdentity;
    note(layer == Layer::kResource ? "the resource policy does not trust the caller's account"
                                   : "no identity-policy Allow");
    return Deny(Decision::kImplicitlyDenied, layer, std::move(steps));
  }
  if (!boundary_ok) {
    note("the permissions boundary does not allow");
    return Deny(Decision::kImplicitlyDenied, Layer::kBoundary, std::move(steps));
  }
  if (!session_ok) {
    note("the session policy does not allow");
    return Deny(Decision::kImplicitlyDenied, Layer::kSession, std::move(steps));
  }
  return allowed();
}

}  // namespace xrole::policy
