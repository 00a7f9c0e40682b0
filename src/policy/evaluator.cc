// evaluator.cc: the compiled evaluator, xrole::policy::Evaluate. Implements the decision
// procedure of docs/evaluation-logic.md over a CompiledPolicySet: candidate statements come
// from the action index (or, with use_index=false, from a scan of every statement), Deny
// candidates are checked first, and the layer verdicts then go through the numbered steps.
// Nothing here allocates on the common path except the result's reasons; the set is only read.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/aws_services.h"
#include "policy/compiled_policy_set.h"
#include "policy/principal.h"
#include "xrole/policy.h"

namespace xrole::policy {
namespace {

// A vector with inline storage; spills to the heap only past `N` elements.
template <typename T, std::size_t N>
class SmallVector {
 public:
  void push_back(T value) {
    if (heap_.empty() && size_ < N) {
      inline_[size_++] = value;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_.begin(), inline_.begin() + size_);
    heap_.push_back(value);
    ++size_;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T* begin() const { return heap_.empty() ? inline_.data() : heap_.data(); }
  const T* end() const { return begin() + size_; }

 private:
  std::array<T, N> inline_;  // only [0, size_) is initialised
  std::vector<T> heap_;
  std::size_t size_ = 0;
};

// A bitmap over statement ids; iteration is in id order (= reason order) without duplicates.
class CandidateSet {
 public:
  explicit CandidateSet(std::size_t statements) : words_count_((statements + 63) / 64) {
    if (words_count_ <= kInlineWords) {
      words_ = inline_.data();
      std::memset(words_, 0, words_count_ * sizeof(std::uint64_t));
    } else {
      heap_.assign(words_count_, 0);
      words_ = heap_.data();
    }
  }
  CandidateSet(const CandidateSet&) = delete;
  CandidateSet& operator=(const CandidateSet&) = delete;

  void Add(std::uint32_t id) { words_[id >> 6] |= std::uint64_t{1} << (id & 63); }
  void AddAll(const std::vector<std::uint32_t>& ids) {
    for (std::uint32_t id : ids) Add(id);
  }
  void AddRange(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) Add(static_cast<std::uint32_t>(i));
  }
  template <typename F>
  void ForEach(F&& f) const {
    for (std::size_t w = 0; w < words_count_; ++w) {
      std::uint64_t bits = words_[w];
      while (bits != 0) {
        const int bit = __builtin_ctzll(bits);
        bits &= bits - 1;
        f(static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(bit)));
      }
    }
  }
  std::size_t Count() const {
    std::size_t n = 0;
    for (std::size_t w = 0; w < words_count_; ++w) n += __builtin_popcountll(words_[w]);
    return n;
  }

 private:
  static constexpr std::size_t kInlineWords = 64;  // 4096 statements without allocating
  std::size_t words_count_;
  std::array<std::uint64_t, kInlineWords> inline_;
  std::vector<std::uint64_t> heap_;
  std::uint64_t* words_ = nullptr;
};

// The request's action lower-cased, on the stack when it is short.
class LowerAction {
 public:
  explicit LowerAction(std::string_view action) {
    char* out = buffer_.data();
    if (action.size() > buffer_.size()) {
      heap_.resize(action.size());
      out = heap_.data();
    }
    for (std::size_t i = 0; i < action.size(); ++i) {
      const char c = action[i];
      out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    text_ = std::string_view(out, action.size());
  }
  LowerAction(const LowerAction&) = delete;
  LowerAction& operator=(const LowerAction&) = delete;
  std::string_view text() const { return text_; }

 private:
  std::array<char, 128> buffer_;
  std::string heap_;
  std::string_view text_;
};

// Collects explanation lines; inert when explain is off.
class Explainer {
 public:
  explicit Explainer(std::vector<std::string>* lines) : lines_(lines) {}
  bool on() const { return lines_ != nullptr; }
  void Add(std::string line) const {
    if (lines_ != nullptr) lines_->push_back(std::move(line));
  }

 private:
  std::vector<std::string>* lines_;
};

// The request's caller, parsed in full (ParseCaller allocates) only when a Principal or
// NotPrincipal test asks for it.
class LazyCaller {
 public:
  explicit LazyCaller(const Request& request) : request_(request) {}
  LazyCaller(const LazyCaller&) = delete;
  LazyCaller& operator=(const LazyCaller&) = delete;
  const Caller& get() {
    if (!caller_.has_value()) caller_.emplace(ParseCaller(request_));
    return *caller_;
  }

 private:
  const Request& request_;
  std::optional<Caller> caller_;
};

// Per-request outcomes of the set's distinct resource patterns (0: not computed yet).
class PatternOutcomes {
 public:
  explicit PatternOutcomes(std::size_t count) {
    if (count <= inline_.size()) {
      data_ = inline_.data();
      std::memset(data_, 0, count);
    } else {
      heap_.assign(count, 0);
      data_ = heap_.data();
    }
  }
  PatternOutcomes(const PatternOutcomes&) = delete;
  PatternOutcomes& operator=(const PatternOutcomes&) = delete;
  std::uint8_t& operator[](std::uint32_t id) { return data_[id]; }

 private:
  std::array<std::uint8_t, 1024> inline_;
  std::vector<std::uint8_t> heap_;
  std::uint8_t* data_ = nullptr;
};

// What one statement check needs to know about the request.
struct RequestView {
  const Request& request;
  LazyCaller& caller;
  PatternOutcomes& outcomes;
  const std::vector<ResourcePattern>& patterns;
  const std::vector<ResourcePrefilter>& prefixes;
  std::string_view action;   // lower-cased
  std::string_view service;  // lower-cased prefix; "" when the action has no ':'
  std::string_view name;     // lower-cased name
  bool action_has_colon;
  bool resourceless;
  bool caller_has_boundary;
  const Semantics& semantics;
};

std::string StatementLabel(const CompiledStatement& statement) {
  std::string label = statement.reason.policy;
  if (!statement.reason.name.empty()) label += " (" + statement.reason.name + ")";
  label += " Statement[" + std::to_string(statement.reason.statement) + "]";
  if (!statement.reason.sid.empty()) label += " `" + statement.reason.sid + "`";
  label += " ";
  label += EffectName(statement.effect);
  return label;
}

bool ActionApplies(const CompiledStatement& statement, const RequestView& view) {
  bool any = false;
  for (const CompiledAction& action : statement.actions) {
    if (action.kind == CompiledAction::Kind::kAll ||
        (view.action_has_colon && action.Matches(view.service, view.name))) {
      any = true;
      break;
    }
  }
  return statement.not_action ? !any : any;
}

bool ResourceApplies(const CompiledStatement& statement, const RequestView& view) {
  if (!statement.has_resources) return true;
  bool matched = false;
  bool unresolved = false;
  for (std::uint32_t id : statement.resources) {
    std::uint8_t& memo = view.outcomes[id];
    if (memo == 0) {
      const ResourcePattern& pattern = view.patterns[id];
      ResourcePattern::Outcome computed = ResourcePattern::Outcome::kNoMatch;
      if (view.resourceless) {
        computed = pattern.MatchResourceless(view.service, view.request.context, view.semantics);
      } else if (view.prefixes[id].Admits(view.request.resource)) {
        computed = pattern.Match(view.request.resource, view.request.context, view.semantics);
      }
      memo = static_cast<std::uint8_t>(static_cast<int>(computed) + 1);
    }
    const auto outcome = static_cast<ResourcePattern::Outcome>(memo - 1);
    if (outcome == ResourcePattern::Outcome::kMatch) {
      matched = true;
      break;
    }
    if (outcome == ResourcePattern::Outcome::kUnresolved) unresolved = true;
  }
  if (!statement.not_resource) return matched;
  // An unresolvable NotResource entry excludes nothing (2.5), unless Semantics says the oracle's
  // way: the statement then never applies.
  if (matched) return false;
  return !(unresolved && view.semantics.unresolved_not_resource_never_applies);
}

// The statement's principal strength when it applies to the request, kNoMatch when it does
// not. Statements without a principal test apply at kDirect. `why` (explain only) receives the
// first failing test.
PrincipalMatch Applies(const CompiledStatement& statement, const RequestView& view,
                       bool check_action, std::string* why) {
  if (check_action && !ActionApplies(statement, view)) {
    if (why != nullptr)
      *why = statement.not_action ? "NotAction lists the action" : "Action does not match";
    return PrincipalMatch::kNoMatch;
  }
  if (!ResourceApplies(statement, view)) {
    if (why != nullptr)
      *why = statement.not_resource ? "NotResource lists the resource" : "Resource does not match";
    return PrincipalMatch::kNoMatch;
  }
  PrincipalMatch strength = PrincipalMatch::kDirect;
  switch (statement.principal_test) {
    case CompiledStatement::PrincipalTest::kNone:
      break;
    case CompiledStatement::PrincipalTest::kNever:
      if (why != nullptr) *why = "no Principal element (never applies)";
      return PrincipalMatch::kNoMatch;
    case CompiledStatement::PrincipalTest::kPrincipal:
      strength = MatchPrincipal(*statement.principal, view.caller.get(), view.semantics);
      if (strength == PrincipalMatch::kNoMatch) {
        if (why != nullptr) *why = "Principal does not match the caller";
        return PrincipalMatch::kNoMatch;
      }
      break;
    case CompiledStatement::PrincipalTest::kNotPrincipal:
      // An applicable Allow+NotPrincipal counts as a grant to "*" (Direct).
      if (NotPrincipalExempts(*statement.principal, view.caller.get(), view.caller_has_boundary,
                              view.semantics)) {
        if (why != nullptr) *why = "NotPrincipal exempts the caller";
        return PrincipalMatch::kNoMatch;
      }
      break;
  }
  for (const CompiledCondition& condition : statement.conditions) {
    if (!condition.Evaluate(view.request.context, view.semantics, why)) {
      return PrincipalMatch::kNoMatch;
    }
  }
  return strength;
}

bool HasAccountIdentity(Caller::Kind kind) {
  return kind == Caller::Kind::kRoot || kind == Caller::Kind::kUser ||
         kind == Caller::Kind::kRoleSession || kind == Caller::Kind::kFederatedUser;
}

std::string_view CallerKindName(Caller::Kind kind) {
  switch (kind) {
    case Caller::Kind::kRoot:
      return "root user";
    case Caller::Kind::kUser:
      return "IAM user";
    case Caller::Kind::kRoleSession:
      return "role session";
    case Caller::Kind::kFederatedUser:
      return "federated user";
    case Caller::Kind::kService:
      return "service principal";
    case Caller::Kind::kAnonymous:
      return "anonymous caller";
  }
  return "anonymous caller";
}

std::string_view StrengthName(PrincipalMatch match) {
  switch (match) {
    case PrincipalMatch::kNoMatch:
      return "none";
    case PrincipalMatch::kAccountLevel:
      return "account";
    case PrincipalMatch::kViaRoleOrUser:
      return "via role or user";
    case PrincipalMatch::kDirect:
      return "direct";
  }
  return "none";
}

}  // namespace

EvaluationResult Evaluate(const CompiledPolicySet& set, const Request& request,
                          const EvaluateOptions& options) {
  EvaluationResult result;
  const Explainer explain(options.explain ? &result.explanation : nullptr);
  const Semantics& semantics = set.semantics();

  const LowerAction lower_action(request.action);
  const std::string_view action = lower_action.text();
  const std::size_t colon = action.find(':');
  const bool action_has_colon = colon != std::string_view::npos;
  const std::string_view service = action_has_colon ? action.substr(0, colon) : std::string_view();
  const std::string_view name = action_has_colon ? action.substr(colon + 1) : std::string_view();

  const CallerSummary caller = SummarizeCaller(request.principal);
  LazyCaller full_caller(request);
  const bool principal_side = HasAccountIdentity(caller.kind);
  // The root user has no permissions boundary and no session policies.
  const bool is_root = caller.kind == Caller::Kind::kRoot;
  const bool root_full_access = is_root && semantics.root_has_implicit_full_access;
  const bool resourceless = request.resource.empty() || request.resource == "*";
  auto resource_account = [&]() {
    std::string_view account = request.resource_account;
    if (account.empty()) account = ArnAccount(request.resource);
    if (account.empty()) account = caller.account;
    return account;
  };

  if (explain.on()) {
    explain.Add(
        "request: `" + request.action + "` on `" +
        (resourceless ? std::string("*") : request.resource) + "` by " +
        std::string(CallerKindName(caller.kind)) + " `" + request.principal + "`" +
        (caller.account.empty() ? std::string() : " of account " + std::string(caller.account)) +
        "; resource account `" + std::string(resource_account()) + "`");
  }

  // Step 0.
  if (caller.kind != Caller::Kind::kAnonymous && IsGetCallerIdentity(action)) {
    result.decision = Decision::kAllowed;
    explain.Add("step 0: sts:GetCallerIdentity needs no permission -> Allowed");
    return result;
  }

  const bool rcps_apply = set.has_rcps() && (!semantics.rcps_only_for_supported_services ||
                                             RcpSupportsService(service));
  const bool scps_apply = set.has_scps() && principal_side;
  if (explain.on()) {
    if (set.has_rcps()) {
      explain.Add(rcps_apply ? "rcps apply (" + std::to_string(set.rcp_levels()) + " levels)"
                             : "rcps do not apply: service `" + std::string(service) +
                                   "` is not RCP-supported");
    }
    if (set.has_scps()) {
      explain.Add(scps_apply ? "scps apply (" + std::to_string(set.scp_levels()) + " levels)"
                             : "scps do not apply to a caller without an account identity");
    }
    if (!principal_side) {
      explain.Add("identity, boundary, session policies and scps are ignored for a " +
                  std::string(CallerKindName(caller.kind)));
    }
  }

  // Which layers take part for this caller.
  auto layer_active = [&](Layer layer) {
    switch (layer) {
      case Layer::kRcp:
        return rcps_apply;
      case Layer::kScp:
        return scps_apply;
      case Layer::kResource:
        return true;
      case Layer::kIdentity:
        return principal_side;
      case Layer::kBoundary:
      case Layer::kSession:
        return principal_side && !is_root;
      case Layer::kNone:
        return false;
    }
    return false;
  };

  // Candidate statements.
  const std::vector<CompiledStatement>& statements = set.statements();
  CandidateSet candidates(statements.size());
  if (options.use_index) {
    const ActionIndex& index = set.index();
    candidates.AddAll(index.always);
    if (action_has_colon) {
      auto service_it = index.services.find(service);
      if (service_it != index.services.end()) {
        const ActionIndex::Service& bucket = service_it->second;
        auto exact_it = bucket.exact.find(name);
        if (exact_it != bucket.exact.end()) candidates.AddAll(exact_it->second);
        candidates.AddAll(bucket.any_name);
        for (const ActionIndex::Wildcard& wildcard : bucket.wildcards) {
          if (wildcard.name.Matches(name)) candidates.AddAll(wildcard.statements);
        }
      }
    }
  } else {
    candidates.AddRange(statements.size());
  }
  if (explain.on()) {
    explain.Add("candidates: " + std::to_string(candidates.Count()) + " of " +
                std::to_string(statements.size()) + " statements (" +
                (options.use_index ? "action index" : "full scan") + ")");
  }

  PatternOutcomes outcomes(set.resource_patterns().size());
  const RequestView view{request,
                         full_caller,
                         outcomes,
                         set.resource_patterns(),
                         set.resource_prefilters(),
                         action,
                         service,
                         name,
                         action_has_colon,
                         resourceless,
                         principal_side && !is_root && set.has_boundaries(),
                         semantics};
  std::string why;
  std::string* why_ptr = explain.on() ? &why : nullptr;
  auto check = [&](const CompiledStatement& statement) {
    const bool check_action = !options.use_index || !statement.action_indexed;
    why.clear();
    const PrincipalMatch strength = Applies(statement, view, check_action, why_ptr);
    if (explain.on()) {
      if (strength != PrincipalMatch::kNoMatch) {
        std::string line = StatementLabel(statement) + ": applies";
        if (statement.principal_test != CompiledStatement::PrincipalTest::kNone) {
          line += " (principal match: " + std::string(StrengthName(strength)) + ")";
        }
        explain.Add(std::move(line));
      } else {
        explain.Add(StatementLabel(statement) + ": does not apply: " + why);
      }
    }
    return strength;
  };

  // Step 1: every applicable Deny.
  SmallVector<std::uint32_t, 32> denies;
  candidates.ForEach([&](std::uint32_t id) {
    const CompiledStatement& statement = statements[id];
    if (statement.effect != Effect::kDeny || !layer_active(statement.layer)) return;
    if (check(statement) != PrincipalMatch::kNoMatch) denies.push_back(id);
  });
  if (!denies.empty()) {
    result.decision = Decision::kExplicitlyDenied;
    result.reasons.reserve(denies.size());
    for (std::uint32_t id : denies) result.reasons.push_back(statements[id].reason);
    if (explain.on()) {
      explain.Add("step 1: " + std::to_string(denies.size()) +
                  " applicable Deny statement(s) -> ExplicitlyDenied");
    }
    return result;
  }

  // Layer verdicts from the applicable Allows.
  const std::size_t group_count = set.groups().size();
  SmallVector<std::uint32_t, 64> allows;
  std::array<bool, 64> inline_groups;
  inline_groups.fill(false);
  std::vector<bool> heap_groups;
  if (group_count > inline_groups.size()) heap_groups.assign(group_count, false);
  auto set_group = [&](std::uint32_t group) {
    if (heap_groups.empty()) {
      inline_groups[group] = true;
    } else {
      heap_groups[group] = true;
    }
  };
  auto group_allows = [&](std::uint32_t group) {
    return heap_groups.empty() ? inline_groups[group] : static_cast<bool>(heap_groups[group]);
  };
  PrincipalMatch resource_strength = PrincipalMatch::kNoMatch;
  candidates.ForEach([&](std::uint32_t id) {
    const CompiledStatement& statement = statements[id];
    if (statement.effect != Effect::kAllow || !layer_active(statement.layer)) return;
    const PrincipalMatch strength = check(statement);
    if (strength == PrincipalMatch::kNoMatch) return;
    allows.push_back(id);
    set_group(statement.group);
    if (statement.layer == Layer::kResource)
      resource_strength = std::max(resource_strength, strength);
  });

  if (explain.on()) {
    std::string line = "verdicts (no Deny applies):";
    for (std::uint32_t group = 0; group < group_count; ++group) {
      const StatementGroup& g = set.groups()[group];
      if (!layer_active(g.layer)) continue;
      if (g.layer == Layer::kResource && !set.has_resource_policy()) continue;
      if (g.layer == Layer::kBoundary && !set.has_boundaries()) continue;
      if (g.layer == Layer::kSession && !set.has_session_policies()) continue;
      line += " " + std::string(LayerName(g.layer));
      if (g.level >= 0) line += "[" + std::to_string(g.level) + "]";
      line += group_allows(group) ? " Allow" : " no-Allow";
      if (g.layer == Layer::kResource && group_allows(group)) {
        line += " (" + std::string(StrengthName(resource_strength)) + ")";
      }
      line += ";";
    }
    explain.Add(std::move(line));
  }

  auto implicit_deny = [&](Layer layer, const std::string& step) {
    result.decision = Decision::kImplicitlyDenied;
    result.denied_by = layer;
    if (explain.on()) {
      explain.Add(step + " -> ImplicitlyDenied (" + std::string(LayerName(layer)) + ")");
    }
    return std::move(result);
  };
  auto allowed = [&](const std::string& step) {
    result.decision = Decision::kAllowed;
    result.reasons.reserve(allows.size());
    for (std::uint32_t id : allows) result.reasons.push_back(statements[id].reason);
    if (explain.on()) explain.Add(step + " -> Allowed");
    return std::move(result);
  };

  // Step 2: RCPs, every level.
  if (rcps_apply) {
    for (std::uint32_t level = 0; level < set.rcp_levels(); ++level) {
      if (!group_allows(set.rcp_group_begin() + level)) {
        return implicit_deny(Layer::kRcp,
                             "step 2: rcp level " + std::to_string(level) + " allows nothing");
      }
    }
  }
  // Step 3: SCPs, every level.
  if (scps_apply) {
    for (std::uint32_t level = 0; level < set.scp_levels(); ++level) {
      if (!group_allows(set.scp_group_begin() + level)) {
        return implicit_deny(Layer::kScp,
                             "step 3: scp level " + std::to_string(level) + " allows nothing");
      }
    }
  }
  const bool resource_allows = resource_strength != PrincipalMatch::kNoMatch;
  // Step 4: callers without principal-side policies.
  if (!principal_side) {
    if (resource_allows) return allowed("step 4: the resource policy allows the caller");
    return implicit_deny(Layer::kResource, "step 4: no resource-policy Allow for the caller");
  }

  const bool identity_allows = root_full_access || group_allows(set.identity_group());
  const bool boundary_ok = is_root || !set.has_boundaries() || group_allows(set.boundary_group());
  const bool session_ok =
      is_root || (set.has_session_policies() ? group_allows(set.session_group())
                                             : !(caller.kind == Caller::Kind::kFederatedUser &&
                                                 semantics.federated_user_requires_session_policy));
  const bool same_account = caller.account == resource_account();

  // Step 5: cross-account.
  if (!same_account) {
    if (!resource_allows) {
      return implicit_deny(Layer::kResource,
                           "step 5: cross-account and no resource-policy Allow for the caller");
    }
    if (!identity_allows) {
      return implicit_deny(Layer::kIdentity, "step 5: cross-account and no identity Allow");
    }
    if (!boundary_ok) return implicit_deny(Layer::kBoundary, "step 5: the boundary allows nothing");
    if (!session_ok) return implicit_deny(Layer::kSession, "step 5: the session check fails");
    return allowed("step 5: cross-account, both sides allow");
  }

  // Explicit trust is checked when the case gives the resource's policy (an absent policy does
  // not apply), and with kms_key_without_key_policy_denies for every KMS key.
  const bool explicit_trust = NeedsExplicitTrust(service, request.resource) &&
                              (set.has_resource_policy() ||
                               (semantics.kms_key_without_key_policy_denies && service == "kms"));
  // Step 6: the root user in its own account.
  if (root_full_access) {
    if (explicit_trust && resource_strength < PrincipalMatch::kAccountLevel) {
      return implicit_deny(Layer::kResource,
                           "step 6: root user, but the resource policy does not trust the account");
    }
    return allowed("step 6: root user in its own account");
  }

  // Step 7: same account.
  if (resource_strength == PrincipalMatch::kDirect) {
    if (IsAssumeRoleAction(action) && semantics.trust_direct_grant_needs_boundary && !boundary_ok) {
      return implicit_deny(Layer::kBoundary,
                           "step 7: direct trust-policy grant, but the boundary allows nothing");
    }
    if (!semantics.direct_resource_grant_bypasses_session_policy && !session_ok) {
      return implicit_deny(Layer::kSession,
                           "step 7: direct resource-policy grant, but the session check fails");
    }
    return allowed("step 7: the resource policy names the caller directly");
  }
  // On an explicit-trust resource an identity Allow counts only when the resource policy trusts
  // the caller's account (or better).
  const bool identity_counts =
      identity_allows && (!explicit_trust || resource_strength >= PrincipalMatch::kAccountLevel);
  if (!identity_counts && resource_strength != PrincipalMatch::kViaRoleOrUser) {
    if (explicit_trust && identity_allows) {
      return implicit_deny(Layer::kResource,
                           "step 7: identity allows, but the explicit-trust resource's policy "
                           "does not trust the caller's account");
    }
    return implicit_deny(Layer::kIdentity,
                         "step 7: no identity Allow and no resource-policy grant to the caller's "
                         "role or user");
  }
  if (!boundary_ok) return implicit_deny(Layer::kBoundary, "step 7: the boundary allows nothing");
  if (!session_ok) return implicit_deny(Layer::kSession, "step 7: the session check fails");
  return allowed(identity_counts ? "step 7: identity policy allows"
                                 : "step 7: the resource policy grants the caller's role or user");
}

}  // namespace xrole::policy
