// policy.h: xrole's IAM policy engine as a library. Parse AWS IAM JSON policy documents,
// compile a set of them once into an immutable CompiledPolicySet, then evaluate requests
// against it as many times as needed, from any number of threads, without locks. Each decision
// names the statements that made it. A small reference evaluator, written straight from AWS's
// documented evaluation logic, sits beside the compiled one; the two are tested against each
// other. See docs/evaluation-logic.md and docs/fidelity.md.
#ifndef XROLE_POLICY_H_
#define XROLE_POLICY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xrole/status.h"

namespace xrole::policy {

// Where a document is used; decides which elements it may and must contain.
enum class PolicyKind { kIdentity, kResource, kTrust, kBoundary, kSession, kScp, kRcp };
std::string_view PolicyKindName(PolicyKind kind);  // "identity", "resource", ...

enum class Effect { kAllow, kDeny };
std::string_view EffectName(Effect effect);  // "Allow" / "Deny"

struct PolicyDocument;  // the AST, src/policy/document.h

// A parsed, validated policy document. Cheap to copy; immutable.
class Policy {
 public:
  Policy(std::shared_ptr<const PolicyDocument> document, std::string name)
      : document_(std::move(document)), name_(std::move(name)) {}
  const PolicyDocument& document() const { return *document_; }
  const std::shared_ptr<const PolicyDocument>& shared_document() const { return document_; }
  // The caller-given name ("" when none).
  const std::string& name() const { return name_; }

 private:
  std::shared_ptr<const PolicyDocument> document_;
  std::string name_;
};

// Parses and validates `json_text` as a policy of `kind`. Errors carry line, column and JSON
// path of the first problem. Warnings are not errors here; see lint.h for all findings.
Result<Policy> ParsePolicy(std::string_view json_text, PolicyKind kind, std::string name = "");

// The value of one request context key: one value, or a list (a multivalued key such as
// aws:TagKeys). Numbers and booleans are carried as their text.
struct ContextValue {
  std::vector<std::string> values;
  bool is_list = false;

  static ContextValue Scalar(std::string v) { return {{std::move(v)}, false}; }
  static ContextValue List(std::vector<std::string> vs) { return {std::move(vs), true}; }
};

// Context keys are case-insensitive: they are stored ASCII-lower-cased. A context may have a
// fallback: keys it does not hold itself are looked up there, so that per-request keys can be
// layered over a shared, unchanging set without copying it.
class Context {
 public:
  void Set(std::string_view key, ContextValue value);
  // `key_lower` must already be lower-cased. Own keys first, then the fallback's.
  const ContextValue* Find(std::string_view key_lower) const;
  // `fallback` must outlive this context (and every copy of it); nullptr removes it.
  void SetFallback(const Context* fallback) { fallback_ = fallback; }
  // Own keys only, not the fallback's.
  bool empty() const { return values_.empty(); }
  std::size_t size() const { return values_.size(); }

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, ContextValue, Hash, std::equal_to<>>;
  const Map& values() const { return values_; }  // own keys only

 private:
  Map values_;
  const Context* fallback_ = nullptr;
};

// One authorization question.
struct Request {
  // The caller: an IAM user, role, assumed-role session, federated-user or root ARN, an
  // account id, a service principal ("lambda.amazonaws.com"), or "" / "anonymous".
  std::string principal;
  std::string action;    // "s3:GetObject"
  std::string resource;  // an ARN; "" or "*" for actions that take no resource
  // The account that owns the resource. Empty: the ARN's account field, or for ARNs without
  // one (S3) the caller's account.
  std::string resource_account;
  Context context;
};

// The policies that apply to one request. An empty list or absent optional means that kind
// of policy does not apply.
struct PolicySet {
  std::vector<Policy> identity;
  std::vector<Policy> boundaries;  // the principal's permissions boundary (OR of these)
  std::vector<Policy> session;     // session policies (OR of these)
  std::optional<Policy> resource;  // the resource's policy (trust policy for sts:AssumeRole)
  // Organisation levels, root first, account last; every level must allow.
  std::optional<std::vector<std::vector<Policy>>> scps;
  std::optional<std::vector<std::vector<Policy>>> rcps;
};

enum class Decision { kAllowed, kExplicitlyDenied, kImplicitlyDenied };
std::string_view DecisionName(Decision decision);  // "Allowed", "ExplicitlyDenied", ...

// The kind of policy a statement or a denial came from.
enum class Layer { kNone, kRcp, kScp, kResource, kIdentity, kBoundary, kSession };
std::string_view LayerName(Layer layer);  // "rcp", "scp", "resource", "identity", ...

// A statement that took part in a decision.
struct Reason {
  Layer layer = Layer::kNone;
  std::string policy;  // "identity[0]", "boundary[0]", "session[0]", "resource", "scp[1][0]"
  std::string name;    // the policy's given name, if any
  int statement = 0;   // 0-based index in the policy's Statement list
  std::string sid;
  Effect effect = Effect::kAllow;

  bool operator==(const Reason&) const = default;
};

struct EvaluationResult {
  Decision decision = Decision::kImplicitlyDenied;
  // For implicit denies: the layer that failed to allow (kIdentity when nothing granted).
  Layer denied_by = Layer::kNone;
  // ExplicitlyDenied: every applicable Deny statement. Allowed: the applicable Allow statements
  // of every layer that had to allow. ImplicitlyDenied: empty.
  std::vector<Reason> reasons;
  // Step-by-step reasoning, filled only when EvaluateOptions::explain is set.
  std::vector<std::string> explanation;
};

// Where AWS's documentation is silent or ambiguous, or where the reference oracle
// (iam-simulate) knowingly departs from the documentation, the engine's choice is a field
// here. Documented() is the default; docs/fidelity.md lists every field with its source.
struct Semantics {
  // 8.3 #1: a same-account resource-policy grant naming the exact session ARN, or "*", is not
  // limited by the session policy (docs). Oracle: limited.
  bool direct_resource_grant_bypasses_session_policy = true;
  // 8.3 #2: an unresolvable variable in a negated string operator's value matches (docs).
  // Oracle: never matches.
  bool unresolved_variable_matches_negated_operator = true;
  // 8.3 #4: a user named directly in a role trust policy still needs a boundary allowing
  // sts:AssumeRole (docs). Oracle: the direct grant bypasses the boundary.
  bool trust_direct_grant_needs_boundary = true;
  // 8.3 #5: for Null, a present key whose value is "" or an empty list counts as absent.
  bool null_treats_empty_as_absent = true;
  // 8.3 #9: short ARN patterns (fewer than six fields) match only when their last field ends
  // in '*', which then spans the missing fields (docs). Oracle: padded with "*" fields.
  bool oracle_short_arn_padding = false;
  // 8.3 #13 / #10: NotPrincipal exempts a caller only when its account, its own ARN and (for a
  // session) its role are all listed, and never when it has a permissions boundary (docs).
  // Oracle: exempt when any listed value matches the caller as in Principal (its own ARN, its
  // role, its account), with or without a boundary.
  bool not_principal_exempts_any_match = false;
  // 2.6: an account principal ("111122223333", arn:aws:iam::111122223333:root) names that
  // account's root user directly (docs silent: root is the account's own identity). Oracle: at
  // account level only, so root too needs an identity-policy Allow in its account.
  bool account_principal_is_direct_for_root = true;
  // 8.3b: an unresolvable variable in a NotResource entry excludes nothing (docs: "matches no
  // resource"). Oracle: the statement never applies.
  bool unresolved_not_resource_never_applies = false;
  // 2.3: a six-field Resource/NotResource entry matches by globbing each field (docs). Oracle:
  // the partition to account fields are compared first and then the resource type, i.e. the
  // resource field's text up to its first '/' or ':' (a ':' inside ${...} counts; nothing for
  // s3 ARNs without region and account), as a literal, case-sensitive prefix; only then are
  // variables resolved. So "r?le/x" never matches, and an entry that fails there is a plain
  // mismatch even when its variable cannot be resolved.
  bool oracle_resource_type_prefix = false;
  // 2.4: an ARN pattern covering every resource of the action's service (arn:aws:s3:::*)
  // matches actions that take no resource (docs example). Oracle: only "*".
  bool service_wide_arn_covers_resourceless_actions = true;
  // 3.8: the escapes ${*} ${?} ${$} stand for '*', '?', '$' in every string that takes
  // variables (docs). Oracle: only in StringLike, ARN operators and Resource; StringEquals-
  // family operators and Bool compare them as written.
  bool variable_escapes_in_string_equals = true;
  // 3.8: a variable whose key holds "" substitutes the empty string (docs silent: the key is
  // present). Oracle: its non-empty default, or else a value that matches nothing.
  bool empty_variable_value_substitutes = true;
  // 1.2: ${...} is substituted only in 2012-10-17 documents (docs). Oracle: in all versions.
  bool variables_in_2008_documents = false;
  // 3.5: epoch values in date operators are seconds (docs). Oracle: milliseconds.
  bool epoch_dates_in_milliseconds = false;
  // 3.5: a date value of exactly four digits ("2024") is the W3C year form (docs silent; AWS
  // documents the W3C ISO 8601 profile, whose coarsest form is YYYY). Oracle: epoch count.
  bool four_digit_date_is_year = true;
  // 8.3b: iam-simulate's IP quirks (0.0.0.0/0 matches only 0.0.0.0, a bare IPv6 address matches
  // only the identical text; NotIpAddress is false with a bare value of the other address family
  // than the caller's, and with a request or policy value that is not an address or network).
  bool oracle_ip_quirks = false;
  // 3.5: a negated typed operator (ArnNotEquals/ArnNotLike, NumericNotEquals, DateNotEquals)
  // on a request value, or against a policy value, that does not parse as its type: the value
  // equals nothing, so the negation holds (docs silent). Oracle: false.
  bool negated_operators_fail_on_unparsable_values = false;
  // 3.6: a multivalued key holding one empty string is an empty set (docs). Oracle: not.
  bool single_empty_string_is_empty_set = true;
  // 4.3 step 7: a federated-user session without a session policy is implicitly denied (docs).
  bool federated_user_requires_session_policy = true;
  // 4.6: RCPs apply only to services that support them (docs). Oracle: to every service.
  bool rcps_only_for_supported_services = true;
  // 4.9: the root user is allowed in its own account without identity policies (docs).
  // Oracle: it needs an identity-policy Allow like any other principal.
  bool root_has_implicit_full_access = true;
  // An explicit-trust resource (4.3) is checked against its policy only when the case gives
  // one: an absent policy does not apply (the eval contract). Oracle: a KMS key without a key
  // policy trusts nobody.
  bool kms_key_without_key_policy_denies = false;

  static Semantics Documented() { return Semantics(); }
  // Reproduces @cloud-copilot/iam-simulate 0.1.173's known departures (differential tests).
  static Semantics OracleCompatible();
};

struct EvaluateOptions {
  bool explain = false;   // fill EvaluationResult::explanation
  bool use_index = true;  // false: scan every statement (a check on the action index)
};

// The immutable, indexed form of a PolicySet. Thread-safe for concurrent evaluation.
class CompiledPolicySet;

Result<std::shared_ptr<const CompiledPolicySet>> Compile(const PolicySet& set,
                                                         const Semantics& semantics = {});

// The fast path. Never fails: a request that cannot be decided is denied.
EvaluationResult Evaluate(const CompiledPolicySet& compiled, const Request& request,
                          const EvaluateOptions& options = {});

// The reference evaluator: walks the documents directly, no index, no precomputation.
EvaluationResult EvaluateReference(const PolicySet& set, const Request& request,
                                   const Semantics& semantics = {}, bool explain = false);

}  // namespace xrole::policy

#endif  // XROLE_POLICY_H_
