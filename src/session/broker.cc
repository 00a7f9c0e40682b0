#include "session/broker.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "common/crypto.h"
#include "common/strings.h"
#include "policy/document.h"
#include "policy/glob.h"
#include "session/records.h"
#include "session/session_reuse.h"
#include "session/token.h"

namespace xrole::session {
namespace {

using nlohmann::json;
using policy::Decision;

constexpr std::int64_t kMaxRunSeconds = 12 * 3600;

std::int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewId(std::string_view prefix) {
  return std::string(prefix) + crypto::HexEncode(crypto::RandomBytes(10));
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The principal keys an execution role gives every session of it (and drift's checks of it).
void SetRolePrincipalKeys(const ExecutionRole& role, policy::Context* context) {
  context->Set("aws:PrincipalAccount", policy::ContextValue::Scalar(role.account));
  for (const auto& [k, v] : role.tags) {
    context->Set("aws:PrincipalTag/" + k, policy::ContextValue::Scalar(v));
  }
}

Error Denied(std::string message) {
  return Error(ErrorCode::kPermissionDenied, std::move(message));
}
Error Invalid(std::string message, std::string path = "") {
  return Error(ErrorCode::kInvalidArgument, std::move(message), std::move(path));
}
Error NotFound(std::string message) { return Error(ErrorCode::kNotFound, std::move(message)); }

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

// AWS's RoleSessionName and SourceIdentity alphabet: [\w+=,.@-].
bool IsSessionNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '=' ||
         c == ',' || c == '.' || c == '@' || c == '-';
}
Status CheckName(std::string_view value, std::string_view what, std::size_t min, std::size_t max) {
  if (value.size() < min || value.size() > max ||
      !std::all_of(value.begin(), value.end(), IsSessionNameChar)) {
    return Invalid(std::string(what) + " " + Quote(value) + " must be " + std::to_string(min) +
                       "-" + std::to_string(max) + " characters of [A-Za-z0-9_+=,.@-]",
                   std::string(what));
  }
  return OkStatus();
}

Status CheckTags(const std::map<std::string, std::string>& tags) {
  if (tags.size() > 50) return Invalid("at most 50 session tags are allowed", "tags");
  for (const auto& [key, value] : tags) {
    if (key.empty() || key.size() > 128) {
      return Invalid("tag key " + Quote(key) + " must be 1-128 characters", "tags");
    }
    if (value.size() > 256) {
      return Invalid("tag " + Quote(key) + " value must be at most 256 characters", "tags");
    }
    if (StartsWithIgnoreCase(key, "aws:") || StartsWithIgnoreCase(key, "xrole:")) {
      return Invalid("tag key " + Quote(key) + " uses a reserved prefix", "tags");
    }
  }
  return OkStatus();
}

// A new access key bound to `run` (principal kind "run", the run's agent as principal).
AccessKeyRecord NewRunKey(const Run& run, std::int64_t now) {
  AccessKeyRecord key;
  key.access_key_id = NewAccessKeyId(false);
  key.principal_kind = "run";
  key.principal = run.agent;
  key.run_id = run.id;
  key.created_at = now;
  key.status = "active";
  return key;
}

// Context keys that describe the principal, the session or the run: always supplied by the
// broker, never taken from the caller (a caller cannot claim to be another principal).
bool IsBrokerOwnedKey(std::string_view key_lower) {
  static constexpr std::string_view kPrefixes[] = {
      "aws:principal",         "aws:sourceidentity", "aws:userid",        "aws:username",
      "aws:tokenissuetime",    "aws:currenttime",    "aws:epochtime",     "xrole:",
      "aws:federatedprovider", "aws:multifactor",    "aws:viaawsservice", "aws:calledvia"};
  for (std::string_view prefix : kPrefixes) {
    if (key_lower.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

// The claims of `record`'s session token: the same for its first issue and any reuse.
TokenClaims ClaimsOf(const SessionRecord& record) {
  TokenClaims claims;
  claims.key_id = record.key_id;
  claims.session_id = record.id;
  claims.role = record.role;
  claims.run_id = record.run_id;
  claims.agent = record.agent;
  claims.access_key_id = record.access_key_id;
  claims.policy_hash = record.policy_hash;
  claims.issued_at = record.issued_at;
  claims.expires_at = record.expires_at;
  return claims;
}

// What the holder of `record`'s session is given: the derived secret and the signed token.
Credentials CredentialsOf(const SessionRecord& record, const KeyRing& keys) {
  Credentials credentials;
  credentials.access_key_id = record.access_key_id;
  credentials.secret_access_key = keys.DeriveSecret(record.access_key_id);
  credentials.session_token = IssueToken(ClaimsOf(record), keys.signer());
  credentials.expiration = record.expires_at;
  return credentials;
}

// The audit details of one decision, in canonical form (members in sorted order).
std::string DecisionDetails(const AuthorizeRequest& request, const AuthorizeResult& result) {
  xrole::json::Writer writer(128 + request.action.size() + request.resource.size());
  writer.BeginObject().Field("action", request.action);
  if (!result.error_code.empty()) {
    writer.Field("code", result.error_code).Field("error", result.error);
  } else {
    writer.Field("decision", policy::DecisionName(result.decision));
    if (!result.reasons.empty()) WriteReasons(writer.Key("reasons"), result.reasons);
  }
  writer.Field("resource", request.resource).EndObject();
  return writer.Take();
}

constexpr std::size_t kMaxPolicyArns = 10;  // AWS's limit for AssumeRole's PolicyArns

// The session policy of a request that names managed policies: one document with the inline
// policy's statements (`inline_policy`, valid or ""), then each named policy's, in the order
// named. Session policies combine as the union of their Allows with any Deny winning, which is
// how the statements of one document combine, so the merged document decides as the separate
// policies would. They must share one Version, which changes how policy variables are read.
Result<std::string> MergeManagedPolicies(const std::string& inline_policy,
                                         const std::vector<std::string>& arns,
                                         const Catalog& catalog) {
  if (arns.size() > kMaxPolicyArns) {
    return Invalid("at most " + std::to_string(kMaxPolicyArns) + " policy ARNs may be given, not " +
                       std::to_string(arns.size()),
                   "policyArns");
  }
  json statements = json::array();
  std::string version;
  std::string version_source;
  auto add = [&](const json& document, const std::string& source) -> Status {
    const std::string document_version = document.value("Version", std::string("2008-10-17"));
    if (version_source.empty()) {
      version = document_version;
      version_source = source;
    } else if (document_version != version) {
      return Invalid(source + " has Version " + Quote(document_version) + " but " + version_source +
                         " has " + Quote(version) +
                         ": session policies combined into one document must share a Version",
                     "policyArns");
    }
    const json& statement = document.at("Statement");
    if (statement.is_array()) {
      for (const json& item : statement) statements.push_back(item);
    } else {
      statements.push_back(statement);
    }
    return OkStatus();
  };
  if (!inline_policy.empty()) {
    const json document = json::parse(inline_policy, nullptr, /*allow_exceptions=*/false);
    if (!document.is_object() || !document.contains("Statement")) {
      return Invalid("the session policy is not a policy document", "policy");
    }
    XROLE_RETURN_IF_ERROR(add(document, "the inline session policy"));
  }
  for (std::size_t i = 0; i < arns.size(); ++i) {
    const std::string& arn = arns[i];
    const ManagedPolicy* found = nullptr;
    for (const auto& [name, managed] : catalog.managed_policies) {
      if (managed.Arn() == arn) found = &managed;
    }
    if (found == nullptr) {
      return Invalid("policy " + Quote(arn) + " does not exist: no ManagedPolicy has this ARN",
                     "policyArns[" + std::to_string(i) + "]");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (arns[j] == arn) {
        return Invalid("policy " + Quote(arn) + " is named twice",
                       "policyArns[" + std::to_string(i) + "]");
      }
    }
    const json document = json::parse(found->document.json, nullptr, false);
    if (!document.is_object() || !document.contains("Statement")) {
      return Error(ErrorCode::kInternal, "managed policy " + Quote(arn) + " has no statements");
    }
    XROLE_RETURN_IF_ERROR(add(document, "policy " + Quote(arn)));
  }
  json merged = json::object();
  merged["Version"] = version;
  merged["Statement"] = std::move(statements);
  return Dump(merged);
}

}  // namespace

std::string Caller::Describe() const {
  switch (kind) {
    case Kind::kAdmin:
      return "admin";
    case Kind::kAgent:
      return "agent:" + name;
    case Kind::kHuman:
      return "human:" + name;
    case Kind::kSession:
      return "session:" + name;
    case Kind::kRun:
      return "run:" + name;
    case Kind::kAnonymous:
      break;
  }
  return "anonymous";
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kMalformedPolicy:
      return 400;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kExpired:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kLimitExceeded:
      return 413;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      break;
  }
  return 500;
}

// ---------------------------------------------------------------------------------------------

struct LiveSession {
  SessionRecord record;
  // The stored session policy no longer parses: the session can never be decided (fail
  // closed rather than fall back to the role's full permissions).
  bool unusable = false;
  std::optional<policy::Policy> session_policy;
  std::shared_ptr<const policy::CompiledPolicySet> compiled;  // for the current catalog
  std::string compiled_key;
  // The context keys describing this session's principal, run and workflow (everything the
  // broker supplies but the clock): built when the session is issued or the catalog changes,
  // copied into each request.
  policy::Context principal_context;
};

struct Broker::State {
  BrokerOptions options;
  std::unique_ptr<KeyRing> keys;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<audit::AuditLog> audit;

  mutable std::shared_mutex mutex;
  // One audit prune at a time (exclusive), and none while the chain is verified (shared): a
  // prune between two pages of a verification would look like a gap.
  std::shared_mutex prune_mutex;
  std::shared_ptr<const Catalog> catalog = std::make_shared<Catalog>();
  std::optional<std::vector<std::vector<policy::Policy>>> scps;
  std::optional<std::vector<std::vector<policy::Policy>>> rcps;
  std::string guardrails_hash;
  std::unordered_map<std::string, Run> runs;
  std::unordered_map<std::string, LiveSession> sessions;
  std::unordered_map<std::string, std::string> session_by_key;         // ASIA... -> session id
  std::unordered_map<std::string, std::vector<std::string>> children;  // parent -> children
  // ReuseKey (session_reuse.h) -> the newest session issued for it. In memory only: after a
  // restart the first reusing assume issues a new session.
  std::unordered_map<std::string, std::string> reusable_sessions;
  std::unordered_map<std::string, Approval> approvals;
  std::unordered_map<std::string, AccessKeyRecord> access_keys;
  std::string admin_token_hash;
  std::mutex apply_mutex;  // serialises Apply
  // Compiled policy sets shared between sessions with the same role version, session policy
  // and guardrails. Guarded by compile_mutex.
  std::mutex compile_mutex;
  std::unordered_map<std::string, std::shared_ptr<const policy::CompiledPolicySet>> compiled;
  policy::Policy agent_baseline{nullptr, ""};

  std::atomic<std::uint64_t> decisions_allowed{0};
  std::atomic<std::uint64_t> decisions_explicit_deny{0};
  std::atomic<std::uint64_t> decisions_implicit_deny{0};
  std::atomic<std::uint64_t> decisions_rejected{0};
  std::atomic<std::uint64_t> sessions_issued{0};
  std::atomic<std::uint64_t> sessions_reused{0};
  std::atomic<std::uint64_t> revocations{0};
  std::atomic<std::uint64_t> auth_failures{0};

  // Tokens whose signature verified, by their exact text. The Ed25519 check dominates an
  // authorize; a token seen before skips it (same bytes, same signature), while expiry and
  // revocation are still checked on every use. Bounded: cleared when full.
  std::mutex token_cache_mutex;
  std::unordered_map<std::string, std::shared_ptr<const TokenClaims>, policy::Context::Hash,
                     std::equal_to<>>
      token_cache;
  static constexpr std::size_t kTokenCacheLimit = 100000;

  std::int64_t Now() const { return options.now ? options.now() : SystemNow(); }

  std::shared_ptr<const Catalog> CurrentCatalog() const {
    std::shared_lock lock(mutex);
    return catalog;
  }

  // The claims of a valid session token. Verified tokens are cached (shared, immutable claims),
  // so a token's signature is checked once, its expiry on every use.
  Result<std::shared_ptr<const TokenClaims>> VerifySessionToken(std::string_view token,
                                                                std::int64_t now) {
    {
      std::lock_guard lock(token_cache_mutex);
      auto it = token_cache.find(token);
      if (it != token_cache.end()) {
        if (it->second->expires_at <= now) {
          return Error(ErrorCode::kExpired, "token expired at " + Iso8601(it->second->expires_at));
        }
        return it->second;
      }
    }
    auto claims = VerifyToken(
        token, [this](std::string_view kid) { return keys->PublicKey(kid); }, now);
    if (!claims.ok()) return claims.error();
    auto shared = std::make_shared<const TokenClaims>(std::move(*claims));
    std::lock_guard lock(token_cache_mutex);
    if (token_cache.size() >= kTokenCacheLimit) token_cache.clear();
    token_cache.emplace(std::string(token), shared);
    return shared;
  }

  // ---- catalog-derived state (exclusive lock held) ----
  void SetCatalog(std::shared_ptr<const Catalog> next) {
    catalog = std::move(next);
    // Guardrails: deny-only ones join one level beside an allow-all (like FullAWSAccess);
    // one that allows anything is an allow-list and forms a level of its own.
    std::vector<policy::Policy> base_principal, base_resource;
    std::vector<std::vector<policy::Policy>> principal_levels, resource_levels;
    std::string hashes;
    for (const auto& [name, guardrail] : catalog->guardrails) {
      hashes += guardrail.hash;
      bool allows = false;
      for (const auto& statement : guardrail.policy.policy.document().statements) {
        if (statement.effect == policy::Effect::kAllow) allows = true;
      }
      auto& base = guardrail.scope == GuardrailScope::kPrincipal ? base_principal : base_resource;
      auto& levels =
          guardrail.scope == GuardrailScope::kPrincipal ? principal_levels : resource_levels;
      if (allows) {
        levels.push_back({guardrail.policy.policy});
      } else {
        base.push_back(guardrail.policy.policy);
      }
    }
    auto finish = [](std::vector<policy::Policy> base, policy::PolicyKind kind,
                     std::vector<std::vector<policy::Policy>> levels)
        -> std::optional<std::vector<std::vector<policy::Policy>>> {
      if (base.empty() && levels.empty()) return std::nullopt;
      if (!base.empty()) {
        auto allow_all = policy::ParsePolicy(
            kind == policy::PolicyKind::kScp
                ? R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})"
                : R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]})",
            kind, "allow-all");
        base.insert(base.begin(), *allow_all);
        levels.insert(levels.begin(), std::move(base));
      }
      return levels;
    };
    scps = finish(std::move(base_principal), policy::PolicyKind::kScp, std::move(principal_levels));
    rcps = finish(std::move(base_resource), policy::PolicyKind::kRcp, std::move(resource_levels));
    guardrails_hash = crypto::Sha256Hex(hashes);
  }

  // The compiled form of the set `build` makes, shared by every caller asking with `key`:
  // each distinct policy set is compiled once, not once per session or per assume.
  template <typename BuildSet>
  Result<std::shared_ptr<const policy::CompiledPolicySet>> CompileCached(const std::string& key,
                                                                         BuildSet build) {
    {
      std::lock_guard lock(compile_mutex);
      auto it = compiled.find(key);
      if (it != compiled.end()) return it->second;
    }
    XROLE_ASSIGN_OR_RETURN(auto result, policy::Compile(build()));
    std::lock_guard lock(compile_mutex);
    compiled.emplace(key, result);
    return result;
  }

  // A session's policies: guardrails, the role's permissions and boundary, its session policy.
  Result<std::shared_ptr<const policy::CompiledPolicySet>> CompileFor(
      const ExecutionRole& role, const std::optional<policy::Policy>& session_policy,
      const std::string& session_policy_hash, std::string* key_out) {
    *key_out = "session|" + role.hash + "|" + session_policy_hash + "|" + guardrails_hash;
    return CompileCached(*key_out, [&] {
      policy::PolicySet set;
      for (const auto& p : role.permissions) set.identity.push_back(p.policy);
      if (role.boundary) set.boundaries.push_back(role.boundary->policy);
      if (session_policy) set.session.push_back(*session_policy);
      set.scps = scps;
      set.rcps = rcps;
      return set;
    });
  }

  // What an assume of `role` is decided against: the role's trust policy as the resource
  // policy, the agents' baseline as identity policy, and the guardrails. Keyed by the trust
  // document's text, which (expanded from a shorthand) can change without the role's hash.
  Result<std::shared_ptr<const policy::CompiledPolicySet>> CompileTrust(const ExecutionRole& role) {
    return CompileCached("trust|" + role.trust.json + "|" + guardrails_hash, [&] {
      policy::PolicySet set;
      set.identity.push_back(agent_baseline);
      set.resource = role.trust.policy;
      set.scps = scps;
      return set;
    });
  }

  // Recompiles every live session, and rebuilds its principal context, against the current
  // catalog (exclusive lock held). A session whose role is gone keeps no policy: every later
  // request is denied.
  void RecompileSessions() {
    std::int64_t now = Now();
    for (auto& [id, live] : sessions) {
      if (live.unusable || live.record.status != "active" || live.record.expires_at <= now) {
        continue;
      }
      auto role = catalog->roles.find(live.record.role);
      if (role == catalog->roles.end()) {
        live.compiled.reset();
        continue;
      }
      auto compiled_set = CompileFor(role->second, live.session_policy,
                                     live.record.session_policy_hash, &live.compiled_key);
      live.compiled = compiled_set.ok() ? *compiled_set : nullptr;
      live.principal_context = PrincipalContext(live.record);
    }
  }

  // ---- audit helpers ----
  audit::Event MakeEvent(std::string type, const Caller& caller) const {
    audit::Event event;
    event.type = std::move(type);
    event.actor.principal = caller.Describe();
    if (caller.kind == Caller::Kind::kAgent) event.actor.agent = caller.name;
    if (caller.kind == Caller::Kind::kHuman) event.actor.human = caller.name;
    if (caller.kind == Caller::Kind::kSession) {
      event.actor.agent = caller.agent;
      event.actor.session = caller.name;
    }
    if (caller.kind == Caller::Kind::kRun) {
      event.actor.agent = caller.agent;
      event.run = caller.name;
    }
    return event;
  }
  void FillSessionActor(audit::Event& event, const SessionRecord& s) const {
    event.actor.human = s.on_behalf_of;
    event.actor.agent = s.agent;
    event.actor.parent_session = s.parent_session_id;
    event.actor.session = s.id;
    event.run = s.run_id;
    event.role = s.role;
    event.policy_hash = s.policy_hash;
  }
  // Verifies the stored chain against its checkpoints and every public key, streaming it
  // through an audit::ChainVerifier `options.audit_page_rows` records at a time; `visit`, if
  // set, sees each record (in seq order) as it is read. The checkpoints are read first and the
  // keys next, so every checkpoint pins a record the pages reach and is signed by a known key.
  // REQUIRES: prune_mutex held (shared or exclusive).
  Result<audit::VerifyReport> VerifyChain(
      const std::function<void(const store::AuditRow&)>& visit = nullptr) const {
    XROLE_ASSIGN_OR_RETURN(auto checkpoints, store->ReadCheckpoints());
    audit::PublicKeys public_keys;
    for (const auto& key : keys->PublicKeys()) public_keys[key.key_id] = key.public_key;
    audit::ChainVerifier verifier(std::move(checkpoints), std::move(public_keys));
    XROLE_RETURN_IF_ERROR(
        store::ForEachAuditRow(*store, 0, options.audit_page_rows, [&](store::AuditRow row) {
          if (visit) visit(row);
          verifier.Add(std::move(row));
        }));
    return verifier.Finish();
  }

  // Records a refused operation. Best effort: the refusal is answered either way.
  void AuditRefusal(const Caller& caller, std::string type, const Error& error,
                    json details = json::object()) {
    audit::Event event = MakeEvent(std::move(type), caller);
    event.outcome = "denied";
    details["error"] = error.message();
    details["code"] = ErrorCodeName(error.code());
    event.details_json = Dump(details);
    audit->Append({}, std::move(event), [](Result<std::int64_t>) {});
  }
  Result<std::int64_t> Commit(std::vector<store::Mutation> mutations, audit::Event event) {
    return audit->AppendAndWait(std::move(mutations), std::move(event));
  }
  // Queues a change's record while the caller still holds the exclusive lock that applied the
  // change in memory, so records reach the log in the order the changes were made; the caller
  // releases the lock, then waits for durability with get().
  std::future<Result<std::int64_t>> Enqueue(std::vector<store::Mutation> mutations,
                                            audit::Event event) {
    auto promise = std::make_shared<std::promise<Result<std::int64_t>>>();
    auto future = promise->get_future();
    audit->Append(std::move(mutations), std::move(event),
                  [promise](Result<std::int64_t> seq) { promise->set_value(std::move(seq)); });
    return future;
  }

  bool RunLive(const Run& run, std::int64_t now) const {
    return run.status == "active" && run.expires_at > now;
  }

  // Marks the run's access key revoked once the run is over (exclusive lock held). True when
  // the key was not revoked before.
  bool RevokeRunKey(const Run& run, std::vector<store::Mutation>& mutations) {
    auto key = access_keys.find(run.access_key_id);
    if (run.access_key_id.empty() || key == access_keys.end() || key->second.status == "revoked") {
      return false;
    }
    key->second.status = "revoked";
    mutations.push_back({store::Table::kAccessKeys, key->first, EncodeAccessKey(key->second)});
    return true;
  }

  // Checks `live` and its ancestors (shared or exclusive lock held). Returns "" when usable,
  // else the error code; fills `message`.
  std::string SessionProblem(const LiveSession& live, std::int64_t now,
                             std::string* message) const {
    const LiveSession* current = &live;
    for (int depth = 0; current != nullptr && depth < 64; ++depth) {
      const SessionRecord& s = current->record;
      if (s.status != "active") {
        *message = "session `" + s.id + "` is revoked" +
                   (s.revoke_reason.empty() ? "" : " (" + s.revoke_reason + ")");
        return depth == 0 ? "revoked" : "parent_revoked";
      }
      if (s.expires_at <= now) {
        *message = "session `" + s.id + "` expired at " + Iso8601(s.expires_at);
        return depth == 0 ? "expired_token" : "parent_expired";
      }
      auto run = runs.find(s.run_id);
      if (run == runs.end() || !RunLive(run->second, now)) {
        *message = "run `" + s.run_id + "` is no longer active";
        return "run_ended";
      }
      if (s.parent_session_id.empty()) return "";
      auto parent = sessions.find(s.parent_session_id);
      current = parent == sessions.end() ? nullptr : &parent->second;
      if (current == nullptr) {
        *message = "parent session `" + s.parent_session_id + "` is unknown";
        return "parent_revoked";
      }
    }
    *message = "session chain too deep";
    return "invalid_session";
  }

  // The broker-supplied context of a session but the clock keys (lock held).
  policy::Context PrincipalContext(const SessionRecord& s) const {
    policy::Context context;
    auto role = catalog->roles.find(s.role);
    context.Set("aws:PrincipalArn", policy::ContextValue::Scalar(s.role_arn));
    if (role != catalog->roles.end()) SetRolePrincipalKeys(role->second, &context);
    for (const auto& [k, v] : s.tags) {
      context.Set("aws:PrincipalTag/" + k, policy::ContextValue::Scalar(v));
    }
    context.Set("aws:PrincipalType", policy::ContextValue::Scalar("AssumedRole"));
    context.Set("aws:userid", policy::ContextValue::Scalar(s.role + ":" + s.session_name));
    if (!s.source_identity.empty()) {
      context.Set("aws:SourceIdentity", policy::ContextValue::Scalar(s.source_identity));
    }
    context.Set("aws:TokenIssueTime", policy::ContextValue::Scalar(Iso8601(s.issued_at)));
    context.Set("xrole:SessionId", policy::ContextValue::Scalar(s.id));
    context.Set("xrole:RunId", policy::ContextValue::Scalar(s.run_id));
    context.Set("xrole:Agent", policy::ContextValue::Scalar(s.agent));
    if (!s.on_behalf_of.empty()) {
      context.Set("xrole:OnBehalfOf", policy::ContextValue::Scalar(s.on_behalf_of));
    }
    if (!s.parent_session_id.empty()) {
      context.Set("xrole:ParentSessionId", policy::ContextValue::Scalar(s.parent_session_id));
    }
    auto run = runs.find(s.run_id);
    if (run != runs.end()) {
      context.Set("xrole:Workflow", policy::ContextValue::Scalar(run->second.workflow));
      for (const auto& [k, v] : run->second.tags) {
        context.Set("xrole:RunTag/" + k, policy::ContextValue::Scalar(v));
      }
    }
    return context;
  }

  // Decides one request (shared lock held). Never fails: problems become denies.
  AuthorizeResult Decide(const AuthorizeRequest& request, audit::Event& event) {
    AuthorizeResult result;
    std::int64_t now = Now();
    const LiveSession* live = nullptr;
    auto reject = [&](std::string code, std::string message) {
      result.decision = Decision::kImplicitlyDenied;
      result.error_code = std::move(code);
      result.error = std::move(message);
      event.type = "authorize.rejected";
      event.outcome = "rejected";
      return result;
    };
    // 1. The credential, before any policy.
    if (!request.session_token.empty()) {
      auto claims = VerifySessionToken(request.session_token, now);
      if (!claims.ok()) {
        return reject(
            claims.error().code() == ErrorCode::kExpired ? "expired_token" : "invalid_token",
            claims.error().message());
      }
      const TokenClaims& verified = **claims;
      auto it = sessions.find(verified.session_id);
      if (it == sessions.end()) return reject("invalid_token", "token names an unknown session");
      live = &it->second;
      if (live->record.access_key_id != verified.access_key_id ||
          live->record.run_id != verified.run_id || live->record.role != verified.role) {
        return reject("invalid_token", "token claims do not match the session");
      }
    } else if (!request.access_key_id.empty()) {
      auto key = session_by_key.find(request.access_key_id);
      if (key == session_by_key.end()) {
        return reject("invalid_token", "unknown access key id `" + request.access_key_id + "`");
      }
      live = &sessions.at(key->second);
    } else {
      return reject("invalid_token", "no session token or access key id given");
    }
    FillSessionActor(event, live->record);
    std::string message;
    std::string problem = SessionProblem(*live, now, &message);
    if (!problem.empty()) return reject(problem, message);
    result.session_id = live->record.id;

    // 2. The policies: the session's own set, and for a delegated session every ancestor's.
    policy::EvaluateOptions evaluate_options;
    evaluate_options.explain = request.explain;
    const LiveSession* current = live;
    bool first = true;
    const std::string now_iso = Iso8601(now);
    const std::string now_text = std::to_string(now);
    while (current != nullptr) {
      if (!current->compiled) {
        return reject("no_policy", "the session's role `" + current->record.role +
                                       "` no longer exists or failed to compile");
      }
      policy::Request eval;
      eval.principal = current->record.assumed_role_arn;
      eval.action = request.action;
      eval.resource = request.resource;
      eval.context.SetFallback(&current->principal_context);  // held by the shared lock
      eval.context.Set("aws:CurrentTime", policy::ContextValue::Scalar(now_iso));
      eval.context.Set("aws:EpochTime", policy::ContextValue::Scalar(now_text));
      for (const auto& [key, value] : request.context.values()) {
        if (!IsBrokerOwnedKey(key)) eval.context.Set(key, value);
      }
      policy::EvaluationResult decided =
          policy::Evaluate(*current->compiled, eval, evaluate_options);
      if (first) {
        result.decision = decided.decision;
        result.reasons = std::move(decided.reasons);
        result.explanation = std::move(decided.explanation);
        first = false;
      } else if (decided.decision != Decision::kAllowed &&
                 result.decision != Decision::kExplicitlyDenied) {
        // The child can do no more than its parent: a parent's deny is the child's.
        result.decision = decided.decision;
        result.reasons = std::move(decided.reasons);
        result.explanation.push_back("parent session `" + current->record.id +
                                     "`: " + std::string(policy::DecisionName(decided.decision)));
      }
      if (current->record.chained || current->record.parent_session_id.empty()) break;
      auto parent = sessions.find(current->record.parent_session_id);
      current = parent == sessions.end() ? nullptr : &parent->second;
    }
    event.outcome = std::string(policy::DecisionName(result.decision));
    return result;
  }

  void CountDecision(const AuthorizeResult& r) {
    if (!r.error_code.empty()) {
      decisions_rejected.fetch_add(1, std::memory_order_relaxed);
    } else if (r.decision == Decision::kAllowed) {
      decisions_allowed.fetch_add(1, std::memory_order_relaxed);
    } else if (r.decision == Decision::kExplicitlyDenied) {
      decisions_explicit_deny.fetch_add(1, std::memory_order_relaxed);
    } else {
      decisions_implicit_deny.fetch_add(1, std::memory_order_relaxed);
    }
  }
};

// ---------------------------------------------------------------------------------------------

Broker::Broker() : state_(std::make_unique<State>()) {}

Broker::~Broker() {
  if (state_ && state_->audit) state_->audit->Stop();
}

Result<std::unique_ptr<Broker>> Broker::Open(const std::string& data_dir,
                                             std::unique_ptr<store::Store> store,
                                             BrokerOptions options) {
  std::unique_ptr<Broker> broker(new Broker());
  State& s = *broker->state_;
  s.options = std::move(options);
  XROLE_ASSIGN_OR_RETURN(s.keys, KeyRing::Open(data_dir));
  s.store = std::move(store);
  s.admin_token_hash = crypto::Sha256Hex(s.keys->admin_token());
  auto baseline = policy::ParsePolicy(
      R"({"Version":"2012-10-17","Statement":[{"Sid":"AgentMayRequestRoles","Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}]})",
      policy::PolicyKind::kIdentity, "xrole-agent-baseline");
  if (!baseline.ok()) return baseline.error();
  s.agent_baseline = *baseline;

  // Roles as code.
  XROLE_ASSIGN_OR_RETURN(auto objects, s.store->LoadTable(store::Table::kObjects));
  std::vector<ObjectDocument> documents;
  for (const auto& entity : objects) {
    auto parsed = ParseObjectDocuments(entity.doc, "store:" + entity.id);
    if (!parsed.ok()) return parsed.error().WithContext("loading stored object");
    for (auto& d : *parsed) documents.push_back(std::move(d));
  }
  XROLE_ASSIGN_OR_RETURN(auto catalog, BuildCatalog(Catalog{}, documents));
  s.SetCatalog(std::move(catalog));

  // Records.
  XROLE_ASSIGN_OR_RETURN(auto runs, s.store->LoadTable(store::Table::kRuns));
  for (const auto& e : runs) {
    XROLE_ASSIGN_OR_RETURN(Run run, DecodeRun(e.doc));
    s.runs.emplace(run.id, std::move(run));
  }
  XROLE_ASSIGN_OR_RETURN(auto sessions, s.store->LoadTable(store::Table::kSessions));
  for (const auto& e : sessions) {
    XROLE_ASSIGN_OR_RETURN(SessionRecord record, DecodeSession(e.doc));
    LiveSession live;
    if (!record.session_policy.empty()) {
      auto parsed =
          policy::ParsePolicy(record.session_policy, policy::PolicyKind::kSession, "session");
      if (parsed.ok()) {
        live.session_policy = *parsed;
      } else {
        live.unusable = true;
      }
    }
    s.session_by_key[record.access_key_id] = record.id;
    if (!record.parent_session_id.empty()) {
      s.children[record.parent_session_id].push_back(record.id);
    }
    live.record = std::move(record);
    s.sessions.emplace(live.record.id, std::move(live));
  }
  XROLE_ASSIGN_OR_RETURN(auto approvals, s.store->LoadTable(store::Table::kApprovals));
  for (const auto& e : approvals) {
    XROLE_ASSIGN_OR_RETURN(Approval approval, DecodeApproval(e.doc));
    s.approvals.emplace(approval.id, std::move(approval));
  }
  XROLE_ASSIGN_OR_RETURN(auto access_keys, s.store->LoadTable(store::Table::kAccessKeys));
  for (const auto& e : access_keys) {
    XROLE_ASSIGN_OR_RETURN(AccessKeyRecord key, DecodeAccessKey(e.doc));
    s.access_keys.emplace(key.access_key_id, std::move(key));
  }
  s.RecompileSessions();

  s.audit = std::make_unique<audit::AuditLog>(*s.store, &s.keys->signer(), s.keys->signer_id(),
                                              s.options.audit);
  XROLE_RETURN_IF_ERROR(s.audit->Open());

  // Public keys are recorded so an exported database names the keys its checkpoints use.
  std::vector<store::Mutation> key_rows;
  for (const auto& key : s.keys->PublicKeys()) {
    key_rows.push_back({store::Table::kSigningKeys, key.key_id,
                        Dump({{"id", key.key_id},
                              {"publicKey", crypto::Base64Encode(key.public_key)},
                              {"status", key.active ? "active" : "retired"}})});
  }
  audit::Event started;
  started.type = "server.start";
  started.actor.principal = "server";
  started.outcome = "ok";
  started.details_json = Dump({{"store", s.store->Describe()},
                               {"signingKey", s.keys->signer_id()},
                               {"sessions", s.sessions.size()},
                               {"runs", s.runs.size()}});
  XROLE_RETURN_IF_ERROR(s.Commit(std::move(key_rows), std::move(started)));
  return broker;
}

std::shared_ptr<const Catalog> Broker::catalog() const {
  std::shared_lock lock(state_->mutex);
  return state_->catalog;
}

const std::string& Broker::admin_token() const { return state_->keys->admin_token(); }

bool Broker::healthy() const { return !state_->audit->failed(); }

// ---- authentication ------------------------------------------------------------------------

Result<Caller> Broker::Authenticate(std::string_view header) {
  State& s = *state_;
  auto fail = [&](std::string message) -> Result<Caller> {
    s.auth_failures.fetch_add(1, std::memory_order_relaxed);
    Error error(ErrorCode::kUnauthenticated, std::move(message));
    s.AuditRefusal(Caller{}, "auth.rejected", error);
    return error;
  };
  if (header.empty()) {
    return Error(ErrorCode::kUnauthenticated, "missing `Authorization: Bearer ...` header");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || !StartsWithIgnoreCase(header, kBearer)) {
    return fail("the Authorization header must be `Bearer <token>`");
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.substr(0, 5) == "xadm_") {
    if (crypto::ConstantTimeEquals(crypto::Sha256Hex(token), s.admin_token_hash)) {
      return Caller::Admin();
    }
    return fail("invalid admin token");
  }
  if (token.substr(0, 5) == "xrt1.") {
    std::shared_lock lock(s.mutex);
    auto claims = s.VerifySessionToken(token, s.Now());
    if (!claims.ok()) {
      lock.unlock();
      return fail(claims.error().message());
    }
    auto it = s.sessions.find((*claims)->session_id);
    std::string message = "token names an unknown session";
    if (it != s.sessions.end() && s.SessionProblem(it->second, s.Now(), &message).empty()) {
      return Caller{Caller::Kind::kSession, it->second.record.id, it->second.record.agent};
    }
    lock.unlock();
    return fail(message);
  }
  std::size_t colon = token.find(':');
  if (colon != std::string_view::npos) {
    std::string key_id(token.substr(0, colon));
    std::string_view secret = token.substr(colon + 1);
    std::shared_lock lock(s.mutex);
    auto it = s.access_keys.find(key_id);
    bool secret_ok = crypto::ConstantTimeEquals(s.keys->DeriveSecret(key_id), secret);
    if (it != s.access_keys.end() && it->second.status == "active" && secret_ok) {
      const AccessKeyRecord& key = it->second;
      if (key.principal_kind == "agent") {
        auto agent = s.catalog->agents.find(key.principal);
        if (agent != s.catalog->agents.end() && !agent->second.disabled) {
          return Caller::OfAgent(key.principal);
        }
      } else if (key.principal_kind == "human" && s.catalog->humans.count(key.principal)) {
        return Caller::OfHuman(key.principal);
      } else if (key.principal_kind == "run") {
        auto run = s.runs.find(key.run_id);
        auto agent = s.catalog->agents.find(key.principal);
        if (run == s.runs.end() || !s.RunLive(run->second, s.Now())) {
          lock.unlock();
          return fail("access key `" + key_id + "` belongs to run `" + key.run_id +
                      "`, which is no longer active");
        }
        if (agent != s.catalog->agents.end() && !agent->second.disabled) {
          return Caller::OfRun(key.run_id, key.principal);
        }
      }
    }
    lock.unlock();
    return fail("invalid, inactive or unknown access key `" + key_id + "`");
  }
  return fail("unrecognised bearer token");
}

// ---- roles as code ---------------------------------------------------------------------------

Result<ApplyResult> Broker::Apply(const Caller& caller,
                                  const std::vector<ObjectDocument>& documents,
                                  const std::vector<std::string>& deletions, bool dry_run) {
  State& s = *state_;
  if (caller.kind != Caller::Kind::kAdmin) {
    Error error = Denied("only the admin may apply roles as code");
    s.AuditRefusal(caller, "apply", error);
    return error;
  }
  // Applies are serialised; the new catalog is built (every policy compiled) outside the
  // broker lock so decisions go on meanwhile.
  std::lock_guard apply_lock(s.apply_mutex);
  std::shared_ptr<const Catalog> base = s.CurrentCatalog();
  auto next = BuildCatalog(*base, documents, deletions);
  if (!next.ok()) return next.error();
  ApplyResult result;
  result.dry_run = dry_run;
  std::vector<store::Mutation> mutations;
  for (const auto& [key, document] : (*next)->documents) {
    auto old = base->documents.find(key);
    if (old == base->documents.end()) {
      result.changes.push_back({key, "created"});
    } else if (old->second.hash != document.hash) {
      result.changes.push_back({key, "updated"});
    } else {
      const std::string& object_key = key;  // structured bindings cannot be captured (C++17)
      bool mentioned = std::any_of(documents.begin(), documents.end(), [&](const auto& d) {
        return std::string(ObjectKindName(d.kind)) + "/" + d.name == object_key;
      });
      if (mentioned) result.changes.push_back({key, "unchanged"});
      continue;
    }
    mutations.push_back({store::Table::kObjects, key, document.canonical_json});
  }
  for (const auto& [key, document] : base->documents) {
    if (!(*next)->documents.count(key)) {
      result.changes.push_back({key, "deleted"});
      mutations.push_back({store::Table::kObjects, key, std::nullopt});
    }
  }
  if (dry_run) return result;
  audit::Event event = s.MakeEvent("apply", caller);
  event.outcome = "ok";
  std::unique_lock lock(s.mutex);
  // A deleted agent or human takes its access keys with it: they would otherwise work again if
  // the name were applied later. An agent with a live run or session is not deleted here:
  // `xrole offboard agent` ends that work explicitly. Every check runs before anything changes.
  const std::int64_t now = s.Now();
  std::vector<const ObjectDocument*> deleted_principals;
  for (const auto& [key, document] : base->documents) {
    if ((*next)->documents.count(key) > 0) continue;
    if (document.kind == ObjectKind::kHuman) deleted_principals.push_back(&document);
    if (document.kind != ObjectKind::kAgent) continue;
    deleted_principals.push_back(&document);
    const std::string& agent = document.name;  // structured bindings cannot be captured (C++17)
    const bool live_run = std::any_of(s.runs.begin(), s.runs.end(), [&](const auto& entry) {
      return entry.second.agent == agent && s.RunLive(entry.second, now);
    });
    const bool live_session =
        std::any_of(s.sessions.begin(), s.sessions.end(), [&](const auto& entry) {
          const SessionRecord& record = entry.second.record;
          return record.agent == agent && record.status == "active" && record.expires_at > now;
        });
    if (live_run || live_session) {
      lock.unlock();
      Error error(ErrorCode::kConflict, "cannot delete " + key + ": it still has a live " +
                                            (live_run ? "run" : "session") +
                                            "; `xrole offboard agent " + document.name +
                                            "` ends its work and deletes it");
      s.AuditRefusal(caller, "apply", error);
      return error;
    }
  }
  for (const ObjectDocument* principal : deleted_principals) {
    const std::string_view principal_kind =
        principal->kind == ObjectKind::kAgent ? "agent" : "human";
    for (auto& [id, access_key] : s.access_keys) {
      if (access_key.principal_kind != principal_kind || access_key.principal != principal->name ||
          access_key.status != "active") {
        continue;
      }
      access_key.status = "revoked";
      mutations.push_back({store::Table::kAccessKeys, id, EncodeAccessKey(access_key)});
      result.retired_keys.push_back(id);
    }
  }
  std::sort(result.retired_keys.begin(), result.retired_keys.end());
  json changes = json::array();
  for (const auto& c : result.changes)
    changes.push_back({{"object", c.object}, {"action", c.action}});
  json details = {{"changes", changes}};
  if (!result.retired_keys.empty()) details["retiredKeys"] = result.retired_keys;
  event.details_json = Dump(details);
  s.SetCatalog(*next);
  s.RecompileSessions();
  auto committed = s.Enqueue(std::move(mutations), std::move(event));
  lock.unlock();
  XROLE_ASSIGN_OR_RETURN(result.audit_id, committed.get());
  return result;
}

// ---- principals' keys ------------------------------------------------------------------------

Result<IssuedKey> Broker::IssueKey(const Caller& caller, std::string_view kind,
                                   std::string_view name, bool rotate) {
  State& s = *state_;
  if (caller.kind != Caller::Kind::kAdmin) {
    Error error = Denied("only the admin may issue credentials");
    s.AuditRefusal(caller, "credentials.issue", error);
    return error;
  }
  std::unique_lock lock(s.mutex);
  bool exists = kind == "agent" ? s.catalog->agents.count(std::string(name)) > 0
                                : kind == "human" && s.catalog->humans.count(std::string(name));
  if (!exists) return NotFound("no " + std::string(kind) + " named " + Quote(name));
  AccessKeyRecord key;
  key.access_key_id = NewAccessKeyId(false);
  key.principal_kind = std::string(kind);
  key.principal = std::string(name);
  key.created_at = s.Now();
  key.status = "active";
  std::vector<store::Mutation> mutations;
  json retired = json::array();
  if (rotate) {
    for (auto& [id, other] : s.access_keys) {
      if (other.principal_kind == kind && other.principal == name && other.status == "active") {
        other.status = "inactive";
        retired.push_back(id);
        mutations.push_back({store::Table::kAccessKeys, id, EncodeAccessKey(other)});
      }
    }
  }
  mutations.push_back({store::Table::kAccessKeys, key.access_key_id, EncodeAccessKey(key)});
  s.access_keys[key.access_key_id] = key;
  audit::Event event = s.MakeEvent(rotate ? "credentials.rotate" : "credentials.issue", caller);
  event.outcome = "ok";
  if (kind == "agent") event.actor.agent = std::string(name);
  event.details_json = Dump({{"principal", std::string(kind) + ":" + std::string(name)},
                             {"accessKeyId", key.access_key_id},
                             {"retired", retired}});
  auto committed = s.Enqueue(std::move(mutations), std::move(event));
  lock.unlock();
  XROLE_RETURN_IF_ERROR(committed.get());
  return IssuedKey{key.access_key_id, s.keys->DeriveSecret(key.access_key_id),
                   std::string(kind) + ":" + std::string(name)};
}

// ---- runs ------------------------------------------------------------------------------------

Result<Run> Broker::StartRun(const Caller& caller, const StartRunRequest& request) {
  State& s = *state_;
  Run run;
  audit::Event event = s.MakeEvent("run.start", caller);
  std::future<Result<std::int64_t>> committed;
  {
    std::unique_lock lock(s.mutex);
    auto refuse = [&](Error error) -> Result<Run> {
      lock.unlock();
      s.AuditRefusal(caller, "run.start", error,
                     {{"workflow", request.workflow}, {"agent", request.agent}});
      return error;
    };
    // The run's initiator is authenticated, never claimed: a human starts runs on their own
    // behalf, an agent on nobody's, and only the admin (trusted automation) may name one.
    std::string agent = request.agent;
    std::string on_behalf_of = request.on_behalf_of;
    if (caller.kind == Caller::Kind::kAgent) {
      if (agent.empty()) agent = caller.name;
      if (agent != caller.name) {
        return refuse(Denied("agent `" + caller.name + "` may not start a run as `" + agent + "`"));
      }
      if (!on_behalf_of.empty()) {
        return refuse(
            Denied("an agent cannot start a run on behalf of a human; the human (or "
                   "the admin) starts it"));
      }
    } else if (caller.kind == Caller::Kind::kHuman) {
      if (agent.empty()) return refuse(Invalid("`agent` is required", "agent"));
      if (on_behalf_of.empty()) on_behalf_of = caller.name;
      if (on_behalf_of != caller.name) {
        return refuse(Denied("human `" + caller.name + "` may not start a run on behalf of `" +
                             on_behalf_of + "`"));
      }
    } else if (caller.kind != Caller::Kind::kAdmin) {
      return refuse(Denied("only the admin, a human or the agent itself may start a run"));
    } else if (agent.empty()) {
      return refuse(Invalid("`agent` is required", "agent"));
    }
    const Catalog& catalog = *s.catalog;
    auto workflow = catalog.workflows.find(request.workflow);
    if (workflow == catalog.workflows.end()) {
      return refuse(NotFound("no workflow named " + Quote(request.workflow)));
    }
    auto agent_it = catalog.agents.find(agent);
    if (agent_it == catalog.agents.end()) return refuse(NotFound("no agent named " + Quote(agent)));
    if (agent_it->second.disabled) return refuse(Denied("agent " + Quote(agent) + " is disabled"));
    if (!on_behalf_of.empty() && !catalog.humans.count(on_behalf_of)) {
      return refuse(NotFound("no human named " + Quote(on_behalf_of)));
    }
    if (auto tags = CheckTags(request.tags); !tags.ok()) return refuse(tags.error());
    if (request.ttl_seconds < 0) {
      return refuse(Invalid("`ttlSeconds` must be positive", "ttlSeconds"));
    }
    std::int64_t ttl = request.ttl_seconds > 0 ? request.ttl_seconds
                                               : std::min(s.options.default_run_seconds,
                                                          workflow->second.max_run_seconds);
    ttl = std::min({ttl, workflow->second.max_run_seconds, kMaxRunSeconds});
    run.id = NewId("run-");
    run.workflow = request.workflow;
    run.agent = agent;
    run.on_behalf_of = on_behalf_of;
    run.tags = request.tags;
    run.started_at = s.Now();
    run.expires_at = run.started_at + ttl;
    run.status = "active";
    AccessKeyRecord run_key = NewRunKey(run, s.Now());
    run.access_key_id = run_key.access_key_id;
    s.runs[run.id] = run;
    s.access_keys[run_key.access_key_id] = run_key;
    event.run = run.id;
    event.actor.agent = run.agent;
    event.actor.human = run.on_behalf_of;
    event.outcome = "ok";
    event.details_json = Dump({{"workflow", run.workflow},
                               {"tags", run.tags},
                               {"expiresAt", run.expires_at},
                               {"accessKeyId", run.access_key_id}});
    committed =
        s.Enqueue({{store::Table::kRuns, run.id, EncodeRun(run)},
                   {store::Table::kAccessKeys, run_key.access_key_id, EncodeAccessKey(run_key)}},
                  std::move(event));
  }
  XROLE_RETURN_IF_ERROR(committed.get());
  run.secret_access_key = s.keys->DeriveSecret(run.access_key_id);
  return run;
}

Result<Run> Broker::GetRun(std::string_view run_id) const {
  std::shared_lock lock(state_->mutex);
  auto it = state_->runs.find(std::string(run_id));
  if (it == state_->runs.end()) return NotFound("no run " + Quote(run_id));
  return it->second;
}

namespace {

// Marks `root` and every descendant revoked (exclusive lock held); appends their mutations.
std::int64_t RevokeSubtree(
    std::unordered_map<std::string, LiveSession>& sessions,
    const std::unordered_map<std::string, std::vector<std::string>>& children,
    const std::string& root, std::int64_t now, const std::string& reason,
    std::vector<store::Mutation>& mutations) {
  std::int64_t count = 0;
  std::vector<std::string> stack{root};
  while (!stack.empty()) {
    std::string id = std::move(stack.back());
    stack.pop_back();
    auto it = sessions.find(id);
    if (it == sessions.end()) continue;
    SessionRecord& record = it->second.record;
    if (record.status == "active" && record.expires_at > now) {
      record.status = "revoked";
      record.revoked_at = now;
      record.revoke_reason = reason;
      mutations.push_back({store::Table::kSessions, record.id, EncodeSession(record)});
      ++count;
    }
    auto kids = children.find(id);
    if (kids != children.end()) stack.insert(stack.end(), kids->second.begin(), kids->second.end());
  }
  return count;
}

}  // namespace

Result<std::int64_t> Broker::EndRun(const Caller& caller, std::string_view run_id) {
  State& s = *state_;
  std::vector<store::Mutation> mutations;
  std::int64_t revoked = 0;
  audit::Event event = s.MakeEvent("run.end", caller);
  std::future<Result<std::int64_t>> committed;
  {
    std::unique_lock lock(s.mutex);
    auto it = s.runs.find(std::string(run_id));
    if (it == s.runs.end()) return NotFound("no run " + Quote(run_id));
    Run& run = it->second;
    bool allowed = caller.kind == Caller::Kind::kAdmin ||
                   (caller.kind == Caller::Kind::kAgent && caller.name == run.agent) ||
                   (caller.kind == Caller::Kind::kHuman && caller.name == run.on_behalf_of);
    if (!allowed) {
      lock.unlock();
      Error error = Denied(caller.Describe() + " may not end run " + Quote(run_id));
      s.AuditRefusal(caller, "run.end", error, {{"run", std::string(run_id)}});
      return error;
    }
    std::int64_t now = s.Now();
    if (run.status == "active") {
      run.status = "ended";
      run.ended_at = now;
      run.ended_by = caller.Describe();
    }
    mutations.push_back({store::Table::kRuns, run.id, EncodeRun(run)});
    s.RevokeRunKey(run, mutations);
    for (auto& [id, live] : s.sessions) {
      if (live.record.run_id == run.id && live.record.parent_session_id.empty()) {
        revoked += RevokeSubtree(s.sessions, s.children, id, now, "run ended", mutations);
      }
    }
    event.run = run.id;
    event.actor.agent = run.agent;
    event.actor.human = run.on_behalf_of;
    event.outcome = "ok";
    event.details_json = Dump({{"revokedSessions", revoked}});
    committed = s.Enqueue(std::move(mutations), std::move(event));
  }
  s.revocations.fetch_add(static_cast<std::uint64_t>(revoked), std::memory_order_relaxed);
  XROLE_RETURN_IF_ERROR(committed.get());
  return revoked;
}

// ---- assume ----------------------------------------------------------------------------------

Result<AssumeResult> Broker::Assume(const Caller& caller, const AssumeRequest& request) {
  State& s = *state_;
  json refusal_details = {{"role", request.role}, {"run", request.run_id}};
  auto refuse = [&](Error error) -> Result<AssumeResult> {
    s.AuditRefusal(caller, "session.assume", error, refusal_details);
    return error;
  };
  if (caller.kind == Caller::Kind::kAnonymous || caller.kind == Caller::Kind::kHuman) {
    return refuse(Denied("only an agent, a session (for delegation) or the admin may assume"));
  }
  if (request.role.empty()) return Invalid("`role` is required", "role");
  if (request.duration_seconds < 0) {
    return Invalid("`durationSeconds` must be positive", "durationSeconds");
  }
  if (request.run_id.empty()) return Invalid("`runId` is required", "runId");
  if (request.policy.size() > s.options.max_session_policy_bytes) {
    return Error(ErrorCode::kLimitExceeded,
                 "session policy is " + std::to_string(request.policy.size()) +
                     " bytes; the limit is " + std::to_string(s.options.max_session_policy_bytes),
                 "policy");
  }
  // Managed policies are read from the catalog as it is now; a change applied while this
  // request waits for the lock below is not seen (as if the request had come first).
  std::string session_policy_text = request.policy;
  if (!request.policy_arns.empty()) {
    if (!request.policy.empty()) {
      auto parsed = policy::ParsePolicy(request.policy, policy::PolicyKind::kSession, "session");
      if (!parsed.ok()) return parsed.error().WithPathPrefix("policy");
    }
    XROLE_ASSIGN_OR_RETURN(
        session_policy_text,
        MergeManagedPolicies(request.policy, request.policy_arns, *s.CurrentCatalog()));
  }
  std::optional<policy::Policy> session_policy;
  std::string session_policy_hash;
  if (!session_policy_text.empty()) {
    auto parsed = policy::ParsePolicy(session_policy_text, policy::PolicyKind::kSession, "session");
    if (!parsed.ok()) return parsed.error().WithPathPrefix("policy");
    session_policy = *parsed;
    session_policy_hash = crypto::Sha256Hex(session_policy_text);
  }
  XROLE_RETURN_IF_ERROR(CheckTags(request.tags));
  for (const std::string& key : request.transitive_tag_keys) {
    if (!request.tags.count(key)) {
      return Invalid("transitive tag key " + Quote(key) + " is not one of the session tags",
                     "transitiveTagKeys");
    }
  }
  if (request.external_id.size() > 1224) {
    return Invalid("external id must be at most 1224 characters", "externalId");
  }
  if (!request.source_identity.empty()) {
    XROLE_RETURN_IF_ERROR(CheckName(request.source_identity, "sourceIdentity", 2, 64));
  }

  std::unique_lock lock(s.mutex);
  std::int64_t now = s.Now();
  const Catalog& catalog = *s.catalog;
  auto run_it = s.runs.find(request.run_id);
  if (run_it == s.runs.end()) {
    lock.unlock();
    return refuse(NotFound("no run " + Quote(request.run_id)));
  }
  const Run& run = run_it->second;
  if (!s.RunLive(run, now)) {
    lock.unlock();
    return refuse(Denied("run " + Quote(run.id) + " is not active"));
  }

  // Who asks: the run's agent, or (delegation/chaining) a live session of the run.
  const LiveSession* parent = nullptr;
  std::string agent_name = run.agent;
  if (!request.parent_session_id.empty()) {
    auto p = s.sessions.find(request.parent_session_id);
    if (p == s.sessions.end()) {
      lock.unlock();
      return refuse(NotFound("no session " + Quote(request.parent_session_id)));
    }
    parent = &p->second;
    std::string message;
    if (!s.SessionProblem(*parent, now, &message).empty()) {
      lock.unlock();
      return refuse(Denied("parent " + message));
    }
    if (parent->record.run_id != run.id) {
      lock.unlock();
      return refuse(Denied("parent session belongs to another run"));
    }
    bool holds_parent = caller.kind == Caller::Kind::kAdmin ||
                        (caller.kind == Caller::Kind::kSession && caller.name == parent->record.id);
    if (!holds_parent) {
      lock.unlock();
      return refuse(Denied("delegating from a session requires that session's token"));
    }
    if (!request.agent.empty()) {
      if (!catalog.agents.count(request.agent)) {
        lock.unlock();
        return refuse(NotFound("no agent named " + Quote(request.agent)));
      }
      agent_name = request.agent;
    } else {
      agent_name = parent->record.agent;
    }
  } else {
    bool is_run_agent = (caller.kind == Caller::Kind::kAgent && caller.name == run.agent) ||
                        (caller.kind == Caller::Kind::kRun && caller.name == run.id) ||
                        caller.kind == Caller::Kind::kAdmin;
    if (!is_run_agent) {
      lock.unlock();
      return refuse(Denied(caller.Describe() + " is not the agent of run " + Quote(run.id)));
    }
  }
  auto agent_it = catalog.agents.find(agent_name);
  if (agent_it == catalog.agents.end() || agent_it->second.disabled) {
    lock.unlock();
    return refuse(Denied("agent " + Quote(agent_name) + " is unknown or disabled"));
  }
  const Agent& agent = agent_it->second;
  auto role_it = catalog.roles.find(request.role);
  if (role_it == catalog.roles.end()) {
    lock.unlock();
    return refuse(NotFound("no execution role named " + Quote(request.role)));
  }
  const ExecutionRole& role = role_it->second;
  auto workflow_it = catalog.workflows.find(run.workflow);
  if (workflow_it == catalog.workflows.end()) {  // deleted by an apply while the run lives
    lock.unlock();
    return refuse(Denied("workflow " + Quote(run.workflow) + " of run " + Quote(run.id) +
                         " no longer exists"));
  }
  const Workflow& workflow = workflow_it->second;
  if (std::find(workflow.roles.begin(), workflow.roles.end(), role.name) == workflow.roles.end()) {
    lock.unlock();
    return refuse(
        Denied("workflow " + Quote(workflow.name) + " does not list role " + Quote(role.name)));
  }
  bool chained = parent != nullptr && parent->record.role != role.name;

  // Source identity is set once and carried down every delegation and chain.
  std::string source_identity = request.source_identity;
  if (parent != nullptr && !parent->record.source_identity.empty()) {
    if (!source_identity.empty() && source_identity != parent->record.source_identity) {
      lock.unlock();
      return refuse(Denied("source identity is immutable: the parent session carries " +
                           Quote(parent->record.source_identity)));
    }
    source_identity = parent->record.source_identity;
  }
  // Session tags add to the role's tags and to the tags a parent passes down; they never
  // replace one (a caller must not relabel itself past a tag-conditioned guardrail).
  std::map<std::string, std::string> tags = request.tags;
  for (const auto& [k, v] : request.tags) {
    bool from_role = role.tags.count(k) > 0;
    bool from_parent = parent != nullptr && parent->record.tags.count(k) > 0;
    if (from_role || from_parent) {
      lock.unlock();
      return refuse(Denied("session tag " + Quote(k) + " is already set by the " +
                           (from_role ? "role" : "parent session") + " and cannot be replaced"));
    }
  }
  std::set<std::string> transitive(request.transitive_tag_keys.begin(),
                                   request.transitive_tag_keys.end());
  if (parent != nullptr) {
    for (const auto& [k, v] : parent->record.tags) tags.emplace(k, v);
    transitive.insert(parent->record.transitive_tag_keys.begin(),
                      parent->record.transitive_tag_keys.end());
  }

  // Duration: requested (or default), never beyond the role's maximum, the run's end, the
  // parent's end, or for a chained role one hour.
  std::int64_t requested =
      request.duration_seconds > 0 ? request.duration_seconds : s.options.default_session_seconds;
  if (requested < s.options.min_session_seconds) {
    lock.unlock();
    return Invalid(
        "durationSeconds must be at least " + std::to_string(s.options.min_session_seconds),
        "durationSeconds");
  }
  std::int64_t expires = now + std::min(requested, role.max_session_seconds);
  expires = std::min(expires, run.expires_at);
  if (parent != nullptr) expires = std::min(expires, parent->record.expires_at);
  if (chained) expires = std::min(expires, now + s.options.max_chained_session_seconds);

  std::string session_name =
      request.session_name.empty() ? agent.name + "-" + run.id.substr(4, 8) : request.session_name;
  if (auto name_ok = CheckName(session_name, "sessionName", 2, 64); !name_ok.ok()) {
    lock.unlock();
    return refuse(name_ok.error());
  }

  // Trust: the role's trust policy, evaluated by the engine for this caller and run.
  {
    auto compiled = s.CompileTrust(role);
    if (!compiled.ok()) {
      lock.unlock();
      return refuse(compiled.error());
    }
    policy::Request trust;
    trust.principal = chained ? parent->record.assumed_role_arn : agent.Arn();
    trust.action = "sts:AssumeRole";
    trust.resource = role.Arn();
    policy::Context& c = trust.context;
    if (chained) {
      // The caller is the parent's role session: its principal keys describe that role
      // (as in AWS: aws:PrincipalArn is the role's ARN, tags are the role's and the session's).
      auto parent_role = catalog.roles.find(parent->record.role);
      c.Set("aws:PrincipalArn", policy::ContextValue::Scalar(parent->record.role_arn));
      if (parent_role != catalog.roles.end()) {
        c.Set("aws:PrincipalAccount", policy::ContextValue::Scalar(parent_role->second.account));
        for (const auto& [k, v] : parent_role->second.tags) {
          c.Set("aws:PrincipalTag/" + k, policy::ContextValue::Scalar(v));
        }
      }
      for (const auto& [k, v] : parent->record.tags) {
        c.Set("aws:PrincipalTag/" + k, policy::ContextValue::Scalar(v));
      }
      if (!parent->record.source_identity.empty()) {
        c.Set("aws:SourceIdentity", policy::ContextValue::Scalar(parent->record.source_identity));
      }
    } else {
      c.Set("aws:PrincipalArn", policy::ContextValue::Scalar(trust.principal));
      c.Set("aws:PrincipalAccount", policy::ContextValue::Scalar(agent.account));
      for (const auto& [k, v] : agent.tags) {
        c.Set("aws:PrincipalTag/" + k, policy::ContextValue::Scalar(v));
      }
    }
    std::vector<std::string> tag_keys;
    for (const auto& [k, v] : request.tags) {
      c.Set("aws:RequestTag/" + k, policy::ContextValue::Scalar(v));
      tag_keys.push_back(k);
    }
    if (!tag_keys.empty()) c.Set("aws:TagKeys", policy::ContextValue::List(tag_keys));
    c.Set("sts:RoleSessionName", policy::ContextValue::Scalar(session_name));
    if (!request.external_id.empty()) {
      c.Set("sts:ExternalId", policy::ContextValue::Scalar(request.external_id));
    }
    if (!request.transitive_tag_keys.empty()) {
      c.Set("sts:TransitiveTagKeys", policy::ContextValue::List(request.transitive_tag_keys));
    }
    if (!source_identity.empty()) {
      c.Set("sts:SourceIdentity", policy::ContextValue::Scalar(source_identity));
    }
    c.Set("aws:CurrentTime", policy::ContextValue::Scalar(Iso8601(now)));
    c.Set("aws:EpochTime", policy::ContextValue::Scalar(std::to_string(now)));
    c.Set("xrole:Workflow", policy::ContextValue::Scalar(run.workflow));
    c.Set("xrole:RunId", policy::ContextValue::Scalar(run.id));
    c.Set("xrole:Agent", policy::ContextValue::Scalar(agent.name));
    if (!agent.sponsor.empty()) {
      c.Set("xrole:AgentSponsor", policy::ContextValue::Scalar(agent.sponsor));
    }
    if (!run.on_behalf_of.empty()) {
      c.Set("xrole:OnBehalfOf", policy::ContextValue::Scalar(run.on_behalf_of));
      auto human = catalog.humans.find(run.on_behalf_of);
      if (human != catalog.humans.end()) {
        for (const auto& [k, v] : human->second.tags) {
          c.Set("xrole:HumanTag/" + k, policy::ContextValue::Scalar(v));
        }
      }
    }
    for (const auto& [k, v] : run.tags) {
      c.Set("xrole:RunTag/" + k, policy::ContextValue::Scalar(v));
    }
    if (parent != nullptr) {
      c.Set("xrole:ParentSessionId", policy::ContextValue::Scalar(parent->record.id));
    }
    policy::EvaluationResult decided = policy::Evaluate(**compiled, trust);
    if (decided.decision != Decision::kAllowed) {
      lock.unlock();
      refusal_details["decision"] = std::string(policy::DecisionName(decided.decision));
      refusal_details["reasons"] = ReasonsJson(decided.reasons);
      return refuse(Denied("the trust policy of role " + Quote(role.name) + " does not allow " +
                           Quote(trust.principal) + " to assume it (" +
                           std::string(policy::DecisionName(decided.decision)) + ")"));
    }
  }

  // Reuse: the session this caller already holds for exactly this request, while a new one
  // would gain nothing (session_reuse.h). Decided after trust, so a tightened trust policy
  // stops reuse too.
  std::string reuse_key;
  if (parent == nullptr) {
    ReuseIdentity identity{caller.Describe(),
                           role.name,
                           run.id,
                           session_name,
                           crypto::Sha256Hex(role.hash + "|" + session_policy_hash),
                           tags,
                           {transitive.begin(), transitive.end()},
                           source_identity};
    reuse_key = ReuseKey(identity);
    auto held = request.reuse ? s.reusable_sessions.find(reuse_key) : s.reusable_sessions.end();
    auto held_live =
        held == s.reusable_sessions.end() ? s.sessions.end() : s.sessions.find(held->second);
    std::string problem;
    if (held_live != s.sessions.end() && !held_live->second.unusable &&
        held_live->second.compiled && s.SessionProblem(held_live->second, now, &problem).empty() &&
        held_live->second.record.policy_hash == identity.policy_hash &&
        held_live->second.record.key_id == s.keys->signer_id() &&
        MayReuseUntil(held_live->second.record.expires_at, expires, now)) {
      const SessionRecord& record = held_live->second.record;
      AssumeResult result;
      result.reused = true;
      result.session = record;
      result.credentials = CredentialsOf(record, *s.keys);
      audit::Event event = s.MakeEvent("session.reuse", caller);
      s.FillSessionActor(event, record);
      event.outcome = "ok";
      event.details_json = Dump({{"sessionName", record.session_name},
                                 {"assumedRoleArn", record.assumed_role_arn},
                                 {"expiresAt", record.expires_at},
                                 {"remainingSeconds", record.expires_at - now},
                                 {"requestedSeconds", requested},
                                 {"accessKeyId", record.access_key_id}});
      auto committed = s.Enqueue({}, std::move(event));
      lock.unlock();
      XROLE_ASSIGN_OR_RETURN(result.audit_id, committed.get());
      s.sessions_reused.fetch_add(1, std::memory_order_relaxed);
      return result;
    }
  }

  // Approval: bound to the exact role, run, requested duration and session policy.
  std::vector<store::Mutation> mutations;
  std::string approval_used;
  if (role.approval_required) {
    json bound = {
        {"sessionName", session_name}, {"tags", request.tags}, {"sourceIdentity", source_identity}};
    if (!request.transitive_tag_keys.empty()) bound["transitiveTagKeys"] = transitive;
    if (!request.external_id.empty()) bound["externalId"] = request.external_id;
    std::string request_hash = crypto::Sha256Hex(Dump(bound));
    std::string approval_id = request.approval_id;
    const auto approval_event = [&] {
      audit::Event event = s.MakeEvent("approval.request", caller);
      event.run = run.id;
      event.role = role.name;
      event.actor.agent = agent.name;
      event.actor.human = run.on_behalf_of;
      event.actor.parent_session = request.parent_session_id;
      event.policy_hash = role.hash;
      event.outcome = "pending";
      return event;
    };
    if (approval_id.empty() && request.find_matching_approval) {
      const Approval* pending_match = nullptr;
      for (const auto& [id, candidate] : s.approvals) {
        bool same = candidate.role == role.name && candidate.run_id == run.id &&
                    candidate.agent == agent.name && candidate.duration_seconds == requested &&
                    candidate.session_policy_hash == session_policy_hash &&
                    candidate.request_hash == request_hash &&
                    candidate.parent_session_id == request.parent_session_id &&
                    candidate.expires_at > now;
        if (same && candidate.status == "approved") {
          approval_id = id;
          break;
        }
        if (same && candidate.status == "pending") pending_match = &candidate;
      }
      if (approval_id.empty() && pending_match != nullptr) {
        audit::Event event = approval_event();
        event.details_json = Dump({{"approvalId", pending_match->id}, {"repeated", true}});
        AssumeResult result;
        result.pending = true;
        result.approval_id = pending_match->id;
        auto committed = s.Enqueue({}, std::move(event));
        lock.unlock();
        XROLE_ASSIGN_OR_RETURN(result.audit_id, committed.get());
        return result;
      }
    }
    if (approval_id.empty()) {
      Approval approval;
      approval.id = NewId("apr-");
      approval.role = role.name;
      approval.run_id = run.id;
      approval.agent = agent.name;
      approval.session_name = session_name;
      approval.duration_seconds = requested;
      approval.session_policy_hash = session_policy_hash;
      approval.request_hash = request_hash;
      approval.parent_session_id = request.parent_session_id;
      approval.requested_by = caller.Describe();
      approval.requested_at = now;
      approval.expires_at = now + role.approval_ttl_seconds;
      approval.status = "pending";
      s.approvals[approval.id] = approval;
      audit::Event event = approval_event();
      event.details_json = Dump({{"approvalId", approval.id},
                                 {"durationSeconds", requested},
                                 {"sessionPolicyHash", session_policy_hash},
                                 {"expiresAt", approval.expires_at}});
      auto committed = s.Enqueue(
          {{store::Table::kApprovals, approval.id, EncodeApproval(approval)}}, std::move(event));
      lock.unlock();
      AssumeResult result;
      result.pending = true;
      result.approval_id = approval.id;
      XROLE_ASSIGN_OR_RETURN(result.audit_id, committed.get());
      return result;
    }
    auto a = s.approvals.find(approval_id);
    std::string problem;
    if (a == s.approvals.end()) {
      problem = "no approval " + Quote(approval_id);
    } else if (a->second.status != "approved") {
      problem = "approval " + Quote(a->second.id) + " is " + a->second.status;
    } else if (a->second.expires_at <= now) {
      problem = "approval " + Quote(a->second.id) + " expired";
    } else if (a->second.role != role.name || a->second.run_id != run.id ||
               a->second.agent != agent.name || a->second.duration_seconds != requested ||
               a->second.session_policy_hash != session_policy_hash ||
               a->second.request_hash != request_hash ||
               a->second.parent_session_id != request.parent_session_id) {
      problem = "approval " + Quote(a->second.id) +
                " was given for a different request (role, run, agent, duration, session "
                "policy, session name, tags and source identity must match exactly)";
    }
    if (!problem.empty()) {
      lock.unlock();
      return refuse(Denied(problem));
    }
    a->second.status = "used";
    approval_used = a->second.id;
    mutations.push_back({store::Table::kApprovals, a->second.id, EncodeApproval(a->second)});
  }

  // Issue.
  LiveSession live;
  SessionRecord& record = live.record;
  record.id = NewId("ses-");
  record.role = role.name;
  record.role_arn = role.Arn();
  record.assumed_role_arn =
      "arn:aws:sts::" + role.account + ":assumed-role/" + role.name + "/" + session_name;
  record.run_id = run.id;
  record.agent = agent.name;
  record.on_behalf_of = run.on_behalf_of;
  record.session_name = session_name;
  record.source_identity = source_identity;
  record.session_policy = session_policy_text;
  record.session_policy_hash = session_policy_hash;
  record.policy_arns = request.policy_arns;
  record.tags = tags;
  record.transitive_tag_keys.assign(transitive.begin(), transitive.end());
  record.parent_session_id = request.parent_session_id;
  record.chained = chained;
  record.issued_at = now;
  record.expires_at = expires;
  record.access_key_id = NewAccessKeyId(true);
  record.key_id = s.keys->signer_id();
  record.policy_hash = crypto::Sha256Hex(role.hash + "|" + session_policy_hash);
  record.status = "active";
  live.session_policy = session_policy;
  auto compiled = s.CompileFor(role, session_policy, session_policy_hash, &live.compiled_key);
  if (!compiled.ok()) {
    lock.unlock();
    return refuse(compiled.error());
  }
  live.compiled = *compiled;
  live.principal_context = s.PrincipalContext(record);

  AssumeResult result;
  result.credentials = CredentialsOf(record, *s.keys);

  audit::Event event = s.MakeEvent("session.assume", caller);
  s.FillSessionActor(event, record);
  event.outcome = "ok";
  event.details_json = Dump({{"sessionName", record.session_name},
                             {"assumedRoleArn", record.assumed_role_arn},
                             {"expiresAt", record.expires_at},
                             {"requestedSeconds", requested},
                             {"sessionPolicyHash", session_policy_hash},
                             {"policyArns", record.policy_arns},
                             {"tags", record.tags},
                             {"transitiveTagKeys", record.transitive_tag_keys},
                             {"externalIdGiven", !request.external_id.empty()},
                             {"sourceIdentity", record.source_identity},
                             {"chained", chained},
                             {"approvalId", approval_used},
                             {"accessKeyId", record.access_key_id},
                             {"keyId", record.key_id},
                             {"roleVersion", role.hash}});
  mutations.push_back({store::Table::kSessions, record.id, EncodeSession(record)});
  result.session = record;
  // The session joins the broker's state under the same lock that checked it, so a revocation
  // or role change that follows sees it; its token is handed out only once its record is
  // durable.
  s.session_by_key[record.access_key_id] = record.id;
  if (!record.parent_session_id.empty()) {
    s.children[record.parent_session_id].push_back(record.id);
  }
  std::string id = record.id;
  s.sessions.emplace(id, std::move(live));
  if (!reuse_key.empty()) s.reusable_sessions[reuse_key] = id;
  auto committed = s.Enqueue(std::move(mutations), std::move(event));
  lock.unlock();
  XROLE_ASSIGN_OR_RETURN(result.audit_id, committed.get());
  s.sessions_issued.fetch_add(1, std::memory_order_relaxed);
  return result;
}

Result<SessionRecord> Broker::GetSession(const Caller& caller, std::string_view id) const {
  std::shared_lock lock(state_->mutex);
  auto it = state_->sessions.find(std::string(id));
  if (it == state_->sessions.end()) return NotFound("no session " + Quote(id));
  const SessionRecord& record = it->second.record;
  bool may = caller.kind == Caller::Kind::kAdmin ||
             (caller.kind == Caller::Kind::kAgent && caller.name == record.agent) ||
             (caller.kind == Caller::Kind::kSession && caller.name == record.id);
  if (!may) return Denied(caller.Describe() + " may not read session " + Quote(id));
  return record;
}

// ---- approvals -------------------------------------------------------------------------------

namespace {

// True when every action `pattern` can stand for is matched by the need pattern `need`. A need
// matches the pattern's text with the pattern's wildcards taken literally; a '?' in the need
// would match a '*' of the pattern that stands for more than one character, so it does not
// count.
bool NeedCovers(std::string_view need, std::string_view pattern) {
  if (need.find('?') != std::string_view::npos &&
      pattern.find_first_of("*?") != std::string_view::npos) {
    return false;
  }
  return policy::Glob::FromPattern(need).Matches(pattern, /*ignore_case=*/true);
}

// One role of a workflow as drift decides it: compiled as for a session, with the role's own
// principal context.
struct RoleUnderTest {
  const ExecutionRole* role;
  std::shared_ptr<const policy::CompiledPolicySet> compiled;
  policy::Context principal;

  policy::Decision Decide(const std::string& action, const std::string& resource) const {
    policy::Request request;
    request.principal =
        "arn:aws:sts::" + role->account + ":assumed-role/" + role->name + "/xrole-drift";
    request.action = action;
    request.resource = resource;
    request.context.SetFallback(&principal);
    return policy::Evaluate(*compiled, request, {}).decision;
  }

  // Some Allow statement names the action and the resource, whatever its conditions say.
  bool AllowsIgnoringConditions(const std::string& action, const std::string& resource) const {
    for (const auto& permission : role->permissions) {
      for (const auto& st : permission.policy.document().statements) {
        if (st.effect != policy::Effect::kAllow || st.not_action || st.not_resource) continue;
        const auto matches = [](const std::vector<std::string>& patterns, const std::string& text,
                                bool ignore_case) {
          return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
            return policy::Glob::FromPattern(p).Matches(text, ignore_case);
          });
        };
        if (matches(st.actions, action, true) &&
            (!st.resources || matches(*st.resources, resource, false))) {
          return true;
        }
      }
    }
    return false;
  }
};

// The catalogue's actions ("service:Name", sorted) that an action pattern with wildcards stands
// for; empty for a pattern without wildcards, one whose service part has any, or an unknown
// service.
std::vector<std::string> ActionsOfPattern(const policy::ActionCatalogue& catalogue,
                                          std::string_view pattern) {
  const std::size_t colon = pattern.find(':');
  if (colon == std::string_view::npos || pattern.find_first_of("*?") == std::string_view::npos ||
      pattern.substr(0, colon).find_first_of("*?") != std::string_view::npos) {
    return {};
  }
  const std::string service = AsciiLower(pattern.substr(0, colon));
  std::vector<std::string> actions =
      catalogue.MatchActions(service, AsciiLower(pattern.substr(colon + 1)));
  for (std::string& action : actions) action = service + ":" + action;
  std::sort(actions.begin(), actions.end());
  return actions;
}

std::string JoinPatterns(const std::vector<std::string>& patterns) {
  std::string out;
  for (const auto& p : patterns) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace

Result<DriftReport> Broker::Drift(const Caller& caller, std::string_view workflow_name) const {
  if (caller.kind != Caller::Kind::kAdmin && caller.kind != Caller::Kind::kHuman) {
    return Denied("only the admin or a human may check roles for drift");
  }
  State& s = *state_;  // CompileFor fills the shared compile cache (its own lock)
  std::shared_lock lock(s.mutex);
  const Catalog& catalog = *s.catalog;
  if (!workflow_name.empty() && catalog.workflows.count(std::string(workflow_name)) == 0) {
    return Error(ErrorCode::kNotFound, "no workflow named `" + std::string(workflow_name) + "`");
  }
  const std::int64_t now = s.Now();
  DriftReport report;
  for (const auto& [name, workflow] : catalog.workflows) {
    if (!workflow_name.empty() && name != workflow_name) continue;
    if (workflow.needs.empty()) {
      report.undeclared.push_back(name);
      continue;
    }
    report.checked.push_back(name);
    std::vector<RoleUnderTest> roles;
    for (const auto& role_name : workflow.roles) {
      auto role_it = catalog.roles.find(role_name);
      if (role_it == catalog.roles.end()) continue;  // BuildCatalog keeps references valid
      const ExecutionRole& role = role_it->second;
      std::string key;
      XROLE_ASSIGN_OR_RETURN(auto compiled, s.CompileFor(role, std::nullopt, "", &key));
      roles.push_back({&role, std::move(compiled), {}});
      policy::Context& principal = roles.back().principal;
      principal.Set("aws:PrincipalArn", policy::ContextValue::Scalar(role.Arn()));
      SetRolePrincipalKeys(role, &principal);
      principal.Set("aws:PrincipalType", policy::ContextValue::Scalar("AssumedRole"));
      principal.Set("xrole:Workflow", policy::ContextValue::Scalar(name));
      principal.Set("aws:CurrentTime", policy::ContextValue::Scalar(Iso8601(now)));
      principal.Set("aws:EpochTime", policy::ContextValue::Scalar(std::to_string(now)));
    }
    // A need is met when some role of the workflow allows each of its actions on at least one
    // of its resources (a group lists actions and the resources they act on; which action
    // takes which resource type is not known here).
    const std::string role_list = JoinPatterns(workflow.roles);
    for (const auto& need : workflow.needs) {
      const std::vector<std::string> any_resource = {"*"};
      const auto& resources = need.resources.empty() ? any_resource : need.resources;
      for (const auto& action : need.actions) {
        bool allowed = false, conditional = false, explicit_deny = false;
        for (const auto& tested : roles) {
          for (const auto& resource : resources) {
            const policy::Decision decision = tested.Decide(action, resource);
            allowed = allowed || decision == policy::Decision::kAllowed;
            explicit_deny = explicit_deny || decision == policy::Decision::kExplicitlyDenied;
            conditional = conditional || tested.AllowsIgnoringConditions(action, resource);
          }
        }
        if (allowed) continue;
        report.findings.push_back({name,
                                   role_list,
                                   conditional && !explicit_deny ? "conditional" : "missing",
                                   action,
                                   JoinPatterns(resources),
                                   explicit_deny ? policy::Decision::kExplicitlyDenied
                                                 : policy::Decision::kImplicitlyDenied,
                                   "",
                                   0,
                                   {}});
      }
    }
    const auto& needs = workflow.needs;  // clang 14 cannot capture a structured binding
    const auto workflow_needs = [&](const std::string& action) {
      return std::any_of(needs.begin(), needs.end(), [&](const auto& need) {
        return std::any_of(need.actions.begin(), need.actions.end(),
                           [&](const std::string& needed) { return NeedCovers(needed, action); });
      });
    };
    for (const auto& tested : roles) {
      const ExecutionRole& role = *tested.role;
      for (const auto& permission : role.permissions) {
        for (const auto& st : permission.policy.document().statements) {
          if (st.effect != policy::Effect::kAllow) continue;
          std::string resource = "*";
          if (st.resources && !st.resources->empty()) {
            resource = st.not_resource ? "NotResource " + JoinPatterns(*st.resources)
                                       : JoinPatterns(*st.resources);
          }
          const std::string where = permission.name + " " + st.path;
          if (st.not_action) {
            report.findings.push_back({name,
                                       role.name,
                                       "excess",
                                       "NotAction " + JoinPatterns(st.actions),
                                       resource,
                                       policy::Decision::kAllowed,
                                       where,
                                       0,
                                       {}});
            continue;
          }
          const std::string& first_resource =
              st.resources && !st.resources->empty() && !st.not_resource ? st.resources->front()
                                                                         : std::string("*");
          for (const auto& action : st.actions) {
            if (workflow_needs(action)) continue;
            DriftFinding finding{name,   role.name, "excess",
                                 action, resource,  tested.Decide(action, first_resource),
                                 where,  0,         {}};
            if (s.options.actions) {
              const std::vector<std::string> granted = ActionsOfPattern(*s.options.actions, action);
              for (const auto& granted_action : granted) {
                if (!workflow_needs(granted_action)) {
                  finding.unneeded_actions.push_back(granted_action);
                }
              }
              if (!granted.empty() && finding.unneeded_actions.empty()) continue;
              finding.granted_actions = granted.size();
            }
            report.findings.push_back(std::move(finding));
          }
        }
      }
    }
  }
  return report;
}

std::vector<Approval> Broker::ListApprovals(const Caller& caller, bool pending_only) const {
  std::vector<Approval> out;
  if (caller.kind != Caller::Kind::kAdmin && caller.kind != Caller::Kind::kHuman) return out;
  std::shared_lock lock(state_->mutex);
  std::int64_t now = state_->Now();
  for (const auto& [id, approval] : state_->approvals) {
    Approval a = approval;
    if (a.status == "pending" && a.expires_at <= now) a.status = "expired";
    if (pending_only && a.status != "pending") continue;
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(),
            [](const Approval& x, const Approval& y) { return x.requested_at < y.requested_at; });
  return out;
}

Result<Approval> Broker::DecideApproval(const Caller& caller, std::string_view approval_id,
                                        bool approve, std::string_view reason) {
  State& s = *state_;
  std::string type = approve ? "approval.approve" : "approval.deny";
  json details = {{"approvalId", std::string(approval_id)}};
  std::unique_lock lock(s.mutex);
  auto refuse = [&](Error error) -> Result<Approval> {
    lock.unlock();
    s.AuditRefusal(caller, type, error, details);
    return error;
  };
  if (caller.kind != Caller::Kind::kHuman) {
    return refuse(Denied("only a human may decide approvals (" + caller.Describe() + " may not)"));
  }
  auto it = s.approvals.find(std::string(approval_id));
  if (it == s.approvals.end()) return refuse(NotFound("no approval " + Quote(approval_id)));
  Approval& approval = it->second;
  std::int64_t now = s.Now();
  if (approval.status != "pending") {
    return refuse(Error(ErrorCode::kConflict,
                        "approval " + Quote(approval_id) + " is already " + approval.status));
  }
  if (approval.expires_at <= now) {
    return refuse(Error(ErrorCode::kExpired, "approval " + Quote(approval_id) + " expired"));
  }
  const Catalog& catalog = *s.catalog;
  auto human = catalog.humans.find(caller.name);
  if (human == catalog.humans.end() || !human->second.can_approve) {
    return refuse(Denied("human " + Quote(caller.name) + " may not approve"));
  }
  auto run = s.runs.find(approval.run_id);
  if (run != s.runs.end() && run->second.on_behalf_of == caller.name) {
    return refuse(Denied("separation of duties: " + Quote(caller.name) + " started run " +
                         Quote(approval.run_id)));
  }
  auto agent = catalog.agents.find(approval.agent);
  if (agent != catalog.agents.end() && agent->second.sponsor == caller.name) {
    return refuse(Denied("separation of duties: " + Quote(caller.name) + " sponsors agent " +
                         Quote(approval.agent)));
  }
  approval.status = approve ? "approved" : "denied";
  approval.decided_by = caller.name;
  approval.decided_at = now;
  approval.reason = std::string(reason);
  Approval copy = approval;
  audit::Event event = s.MakeEvent(type, caller);
  event.run = approval.run_id;
  event.role = approval.role;
  event.actor.agent = approval.agent;
  event.outcome = approval.status;
  event.details_json = Dump({{"approvalId", approval.id}, {"reason", approval.reason}});
  auto committed =
      s.Enqueue({{store::Table::kApprovals, copy.id, EncodeApproval(copy)}}, std::move(event));
  lock.unlock();
  XROLE_RETURN_IF_ERROR(committed.get());
  return copy;
}

// ---- authorize -------------------------------------------------------------------------------

void Broker::Authorize(AuthorizeRequest request, std::function<void(AuthorizeResult)> done) {
  AuthorizeBatch({std::move(request)}, [done = std::move(done)](std::vector<AuthorizeResult> r) {
    done(std::move(r.front()));
  });
}

void Broker::FlushDecisions() { state_->audit->Flush(); }

void Broker::AuthorizeBatch(std::vector<AuthorizeRequest> requests,
                            std::function<void(std::vector<AuthorizeResult>)> done,
                            bool flush_later) {
  State& s = *state_;
  struct Pending {
    std::vector<AuthorizeResult> results;
    std::atomic<std::size_t> remaining;
    std::function<void(std::vector<AuthorizeResult>)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->results.resize(requests.size());
  pending->remaining = requests.size();
  pending->done = std::move(done);
  if (requests.empty()) {
    pending->done({});
    return;
  }
  std::vector<audit::Event> events(requests.size());
  {
    std::shared_lock lock(s.mutex);
    for (std::size_t i = 0; i < requests.size(); ++i) {
      audit::Event& event = events[i];
      event.type = "authorize";
      event.actor.principal = "pep";
      pending->results[i] = s.Decide(requests[i], event);
      const AuthorizeResult& r = pending->results[i];
      event.details_json = DecisionDetails(requests[i], r);
      event.details_canonical = true;
      s.CountDecision(r);
    }
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto recorded = [pending, i](Result<std::int64_t> seq) {
      AuthorizeResult& r = pending->results[i];
      if (seq.ok()) {
        r.audit_id = *seq;
      } else {
        // Fail closed: a decision that could not be recorded is a deny.
        r.decision = Decision::kImplicitlyDenied;
        r.reasons.clear();
        r.error_code = "audit_unavailable";
        r.error = seq.error().message();
      }
      if (pending->remaining.fetch_sub(1) == 1) pending->done(std::move(pending->results));
    };
    if (flush_later) {
      s.audit->AppendDeferred(std::move(events[i]), std::move(recorded));
    } else {
      s.audit->Append({}, std::move(events[i]), std::move(recorded));
    }
  }
}

AuthorizeResult Broker::AuthorizeAndWait(AuthorizeRequest request) {
  std::promise<AuthorizeResult> promise;
  auto future = promise.get_future();
  Authorize(std::move(request), [&promise](AuthorizeResult r) { promise.set_value(std::move(r)); });
  return future.get();
}

// ---- revocation ------------------------------------------------------------------------------

Result<std::int64_t> Broker::Revoke(const Caller& caller, const RevokeRequest& request) {
  State& s = *state_;
  int given = !request.session_id.empty() + !request.run_id.empty() + !request.agent.empty() +
              !request.role.empty();
  if (given != 1) {
    return Invalid("give exactly one of `sessionId`, `runId`, `agent`, `role`");
  }
  json details = {{"sessionId", request.session_id},
                  {"runId", request.run_id},
                  {"agent", request.agent},
                  {"role", request.role},
                  {"reason", request.reason}};
  std::vector<store::Mutation> mutations;
  std::int64_t revoked = 0;
  audit::Event event = s.MakeEvent("revoke", caller);
  std::future<Result<std::int64_t>> committed;
  {
    std::unique_lock lock(s.mutex);
    auto refuse = [&](Error error) -> Result<std::int64_t> {
      lock.unlock();
      s.AuditRefusal(caller, "revoke", error, details);
      return error;
    };
    std::int64_t now = s.Now();
    std::string reason =
        request.reason.empty() ? "revoked by " + caller.Describe() : request.reason;
    bool admin = caller.kind == Caller::Kind::kAdmin;
    if (!request.session_id.empty()) {
      auto it = s.sessions.find(request.session_id);
      if (it == s.sessions.end())
        return refuse(NotFound("no session " + Quote(request.session_id)));
      bool own = (caller.kind == Caller::Kind::kAgent && caller.name == it->second.record.agent) ||
                 (caller.kind == Caller::Kind::kSession && caller.name == request.session_id);
      if (!admin && !own) {
        return refuse(
            Denied(caller.Describe() + " may not revoke session " + Quote(request.session_id)));
      }
      s.FillSessionActor(event, it->second.record);
      revoked = RevokeSubtree(s.sessions, s.children, request.session_id, now, reason, mutations);
    } else if (!request.run_id.empty()) {
      auto run = s.runs.find(request.run_id);
      if (run == s.runs.end()) return refuse(NotFound("no run " + Quote(request.run_id)));
      bool own = caller.kind == Caller::Kind::kAgent && caller.name == run->second.agent;
      if (!admin && !own) {
        return refuse(Denied(caller.Describe() + " may not revoke run " + Quote(request.run_id)));
      }
      if (run->second.status == "active") {
        run->second.status = "revoked";
        run->second.ended_at = now;
        run->second.ended_by = caller.Describe();
        mutations.push_back({store::Table::kRuns, run->second.id, EncodeRun(run->second)});
      }
      s.RevokeRunKey(run->second, mutations);
      event.run = request.run_id;
      for (auto& [id, live] : s.sessions) {
        if (live.record.run_id == request.run_id) {
          revoked += RevokeSubtree(s.sessions, s.children, id, now, reason, mutations);
        }
      }
    } else {
      if (!admin) return refuse(Denied("only the admin may revoke by agent or role"));
      bool by_agent = !request.agent.empty();
      if (by_agent && !s.catalog->agents.count(request.agent)) {
        return refuse(NotFound("no agent named " + Quote(request.agent)));
      }
      if (!by_agent && !s.catalog->roles.count(request.role)) {
        return refuse(NotFound("no execution role named " + Quote(request.role)));
      }
      for (auto& [id, live] : s.sessions) {
        bool match =
            by_agent ? live.record.agent == request.agent : live.record.role == request.role;
        if (match) revoked += RevokeSubtree(s.sessions, s.children, id, now, reason, mutations);
      }
      event.actor.agent = request.agent;
      event.role = request.role;
    }
    event.outcome = "ok";
    details["revokedSessions"] = revoked;
    event.details_json = Dump(details);
    committed = s.Enqueue(std::move(mutations), std::move(event));
  }
  s.revocations.fetch_add(static_cast<std::uint64_t>(revoked), std::memory_order_relaxed);
  XROLE_RETURN_IF_ERROR(committed.get());
  return revoked;
}

// ---- offboarding ----------------------------------------------------------------------------

namespace {

// The catalog kind an offboard request names ("agent", "role", "workflow").
std::optional<ObjectKind> OffboardKind(std::string_view kind) {
  if (kind == "agent") return ObjectKind::kAgent;
  if (kind == "role") return ObjectKind::kExecutionRole;
  if (kind == "workflow") return ObjectKind::kWorkflow;
  return std::nullopt;
}

// The workflows whose `roles` list names `role`, in name order.
std::vector<std::string> WorkflowsListing(const Catalog& catalog, std::string_view role) {
  std::vector<std::string> listing;
  for (const auto& [name, workflow] : catalog.workflows) {
    if (std::find(workflow.roles.begin(), workflow.roles.end(), role) != workflow.roles.end()) {
      listing.push_back(name);
    }
  }
  return listing;
}

// "`a`, `b`".
std::string QuoteAll(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + Quote(name);
  return out;
}

}  // namespace

Result<OffboardResult> Broker::Offboard(const Caller& caller, const OffboardRequest& request) {
  State& s = *state_;
  const json details = {{"kind", request.kind}, {"name", request.name}, {"reason", request.reason}};
  auto refuse = [&](Error error) -> Result<OffboardResult> {
    s.AuditRefusal(caller, "offboard", error, details);
    return error;
  };
  if (caller.kind != Caller::Kind::kAdmin) {
    return refuse(Denied("only the admin may offboard agents, roles and workflows"));
  }
  const std::optional<ObjectKind> kind = OffboardKind(request.kind);
  if (!kind) {
    return Invalid(
        "unknown kind " + Quote(request.kind) + ": expected `agent`, `role` or `workflow`", "kind");
  }
  if (request.name.empty()) return Invalid("`name` is required", "name");
  const bool is_agent = *kind == ObjectKind::kAgent;
  const bool is_role = *kind == ObjectKind::kExecutionRole;
  const bool is_workflow = *kind == ObjectKind::kWorkflow;
  const std::string& name = request.name;
  const std::string object = std::string(ObjectKindName(*kind)) + "/" + name;

  // As in Apply: serialised with applies, and the next catalog is built (so every check has
  // passed) before anything changes.
  std::lock_guard apply_lock(s.apply_mutex);
  std::shared_ptr<const Catalog> base = s.CurrentCatalog();
  if (base->documents.count(object) == 0) {
    const char* noun = is_agent ? "agent" : is_role ? "execution role" : "workflow";
    return refuse(NotFound("no " + std::string(noun) + " named " + Quote(name)));
  }
  if (is_role) {
    const std::vector<std::string> listing = WorkflowsListing(*base, name);
    if (!listing.empty()) {
      return refuse(Error(ErrorCode::kConflict,
                          "execution role " + Quote(name) + " is still listed by workflow " +
                              QuoteAll(listing) +
                              ": remove it there (xrole apply) or offboard the workflow first"));
    }
  }
  XROLE_ASSIGN_OR_RETURN(std::vector<ObjectDocument> rewritten,
                         ExpandTrustShorthandsNaming(*base, *kind, name));
  auto next = BuildCatalog(*base, rewritten, {object});
  if (!next.ok()) return next.error().WithContext("cannot offboard " + Quote(object));

  OffboardResult result;
  result.kind = request.kind;
  result.name = name;
  result.object = object;
  result.reason = request.reason;
  std::vector<store::Mutation> mutations = {{store::Table::kObjects, object, std::nullopt}};
  for (const ObjectDocument& document : rewritten) {
    result.rewritten_roles.push_back(document.name);
    mutations.push_back({store::Table::kObjects,
                         std::string(ObjectKindName(document.kind)) + "/" + document.name,
                         document.canonical_json});
  }
  const std::string revoke_reason =
      "offboarded " + object + (request.reason.empty() ? "" : ": " + request.reason);
  audit::Event event = s.MakeEvent("offboard", caller);
  event.outcome = "ok";
  if (is_agent) event.actor.agent = name;
  if (is_role) event.role = name;
  std::future<Result<std::int64_t>> committed;
  {
    std::unique_lock lock(s.mutex);
    const std::int64_t now = s.Now();
    // The runs that end: the agent's or the workflow's, with their run keys.
    std::set<std::string> ending_runs;
    for (auto& [id, run] : s.runs) {
      if (!((is_agent && run.agent == name) || (is_workflow && run.workflow == name))) continue;
      ending_runs.insert(id);
      if (run.status == "active") {
        run.status = "revoked";
        run.ended_at = now;
        run.ended_by = caller.Describe();
        mutations.push_back({store::Table::kRuns, id, EncodeRun(run)});
        result.ended_runs.push_back(id);
      }
      if (s.RevokeRunKey(run, mutations)) result.retired_keys.push_back(run.access_key_id);
    }
    if (is_agent) {
      for (auto& [id, key] : s.access_keys) {
        if (key.principal_kind == "agent" && key.principal == name && key.status == "active") {
          key.status = "revoked";
          mutations.push_back({store::Table::kAccessKeys, id, EncodeAccessKey(key)});
          result.retired_keys.push_back(id);
        }
      }
    }
    // Sessions are revoked as Revoke does it (each with the subtree delegated or chained from
    // it), so Authorize, Authenticate and the STS endpoint refuse them from now on.
    const std::size_t first_session = mutations.size();
    for (const auto& [id, live] : s.sessions) {
      const SessionRecord& record = live.record;
      if ((is_agent && record.agent == name) || (is_role && record.role == name) ||
          ending_runs.count(record.run_id) > 0) {
        RevokeSubtree(s.sessions, s.children, id, now, revoke_reason, mutations);
      }
    }
    for (std::size_t i = first_session; i < mutations.size(); ++i) {
      result.revoked_sessions.push_back(mutations[i].id);
    }
    for (auto& [id, approval] : s.approvals) {
      const bool open = (approval.status == "pending" || approval.status == "approved") &&
                        approval.expires_at > now;
      const bool concerned = (is_agent && approval.agent == name) ||
                             (is_role && approval.role == name) ||
                             ending_runs.count(approval.run_id) > 0;
      if (!open || !concerned) continue;
      approval.status = "cancelled";
      approval.decided_by = caller.Describe();
      approval.decided_at = now;
      approval.reason = revoke_reason;
      mutations.push_back({store::Table::kApprovals, id, EncodeApproval(approval)});
      result.cancelled_approvals.push_back(id);
    }
    for (auto* ids : {&result.revoked_sessions, &result.ended_runs, &result.retired_keys,
                      &result.cancelled_approvals}) {
      std::sort(ids->begin(), ids->end());
    }
    s.SetCatalog(*next);
    s.RecompileSessions();
    event.details_json = Dump(OffboardJson(result));
    committed = s.Enqueue(std::move(mutations), std::move(event));
  }
  s.revocations.fetch_add(result.revoked_sessions.size(), std::memory_order_relaxed);
  XROLE_ASSIGN_OR_RETURN(result.audit_id, committed.get());
  return result;
}

// ---- access review ---------------------------------------------------------------------------

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;
constexpr std::int64_t kMaxReviewDays = 36500;

// Days since 1970-01-01 of a `YYYY-MM-DD` date (as objects.h validates reviewBy), or nullopt.
std::optional<std::int64_t> EpochDay(std::string_view date) {
  int year = 0;
  unsigned month = 0, day = 0;
  if (date.size() != 10 || date[4] != '-' || date[7] != '-' ||
      std::from_chars(date.data(), date.data() + 4, year).ptr != date.data() + 4 ||
      std::from_chars(date.data() + 5, date.data() + 7, month).ptr != date.data() + 7 ||
      std::from_chars(date.data() + 8, date.data() + 10, day).ptr != date.data() + 10) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month},
                                        std::chrono::day{day}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

// "2030-03-17 (45 days ago)" for an epoch time `days` whole days before now.
std::string DateAndAge(std::int64_t epoch_seconds, std::int64_t days) {
  return Iso8601(epoch_seconds).substr(0, 10) + " (" +
         (days == 0   ? std::string("today")
          : days == 1 ? std::string("1 day ago")
                      : std::to_string(days) + " days ago") +
         ")";
}

}  // namespace

Result<ReviewReport> Broker::Review(const Caller& caller, std::int64_t stale_days) const {
  if (caller.kind != Caller::Kind::kAdmin && caller.kind != Caller::Kind::kHuman) {
    return Denied("only the admin or a human may review access");
  }
  if (stale_days < 1 || stale_days > kMaxReviewDays) {
    return Invalid(
        "`staleDays` must be a whole number of days from 1 to " + std::to_string(kMaxReviewDays),
        "staleDays");
  }
  const State& s = *state_;
  std::shared_lock lock(s.mutex);
  const Catalog& catalog = *s.catalog;
  ReviewReport report;
  report.stale_days = stale_days;
  report.as_of = s.Now();
  const std::int64_t now = report.as_of;
  const std::int64_t stale_seconds = stale_days * kSecondsPerDay;
  auto days_since = [now](std::int64_t when) {
    return std::max<std::int64_t>(0, now - when) / kSecondsPerDay;
  };

  // Last use, from the session and run records (the store's sessions and runs tables): a
  // role's newest session issue; an agent's newest run start or session issued to it (a
  // sub-agent may only ever act through sessions delegated to it).
  std::map<std::string, std::int64_t> last_assumed;
  std::map<std::string, std::int64_t> last_active;
  for (const auto& [id, live] : s.sessions) {
    std::int64_t& role_time = last_assumed[live.record.role];
    role_time = std::max(role_time, live.record.issued_at);
    std::int64_t& agent_time = last_active[live.record.agent];
    agent_time = std::max(agent_time, live.record.issued_at);
  }
  for (const auto& [id, run] : s.runs) {
    std::int64_t& agent_time = last_active[run.agent];
    agent_time = std::max(agent_time, run.started_at);
  }
  auto add = [&report](std::string kind, std::string name, std::string code, std::string detail,
                       std::string action) {
    report.findings.push_back(
        {std::move(kind), std::move(name), std::move(code), std::move(detail), std::move(action)});
  };

  const std::int64_t today = now / kSecondsPerDay;
  for (const auto& [name, role] : catalog.roles) {
    ++report.roles;
    const std::vector<std::string> listing = WorkflowsListing(catalog, name);
    const std::string offboard = (listing.empty() ? std::string()
                                                  : "remove it from workflow " + QuoteAll(listing) +
                                                        " (xrole apply), then: ") +
                                 "xrole offboard role " + name;
    if (const std::optional<std::int64_t> due = EpochDay(role.review_by); due && today > *due) {
      add("role", name, "review_overdue",
          "review was due by " + DateAndAge(*due * kSecondsPerDay, today - *due),
          "review it and set a later reviewBy (xrole apply), or retire it: " + offboard);
    }
    if (role.owner.empty()) {
      add("role", name, "no_owner", "no owner: nobody answers for what the role allows",
          "set metadata.owner (xrole apply)");
    }
    auto assumed = last_assumed.find(name);
    if (assumed == last_assumed.end()) {
      add("role", name, "never_assumed", "no session of this role has ever been issued", offboard);
    } else if (now - assumed->second >= stale_seconds) {
      add("role", name, "not_assumed",
          "last assumed " + DateAndAge(assumed->second, days_since(assumed->second)) +
              ", no session in the last " + std::to_string(stale_days) + " days",
          offboard);
    }
  }
  for (const auto& [name, agent] : catalog.agents) {
    ++report.agents;
    const std::string offboard = "xrole offboard agent " + name;
    if (agent.sponsor.empty() || catalog.humans.count(agent.sponsor) == 0) {
      add("agent", name, "no_sponsor",
          agent.sponsor.empty() ? "no sponsor: no human answers for this agent"
                                : "sponsor " + Quote(agent.sponsor) + " is not a registered Human",
          "name a registered Human as spec.sponsor (xrole apply), or retire it: " + offboard);
    }
    auto active = last_active.find(name);
    if (active == last_active.end()) {
      add("agent", name, "never_active", "it never started a run nor received a session", offboard);
    } else if (now - active->second >= stale_seconds) {
      add("agent", name, "inactive",
          "last run or session " + DateAndAge(active->second, days_since(active->second)) +
              ", none in the last " + std::to_string(stale_days) + " days",
          offboard);
    }
  }
  std::vector<const AccessKeyRecord*> keys;
  for (const auto& [id, key] : s.access_keys) {
    const bool principal_exists =
        key.principal_kind == "agent"
            ? catalog.agents.count(key.principal) > 0
            : key.principal_kind == "human" && catalog.humans.count(key.principal) > 0;
    if (key.status == "active" && principal_exists) keys.push_back(&key);
  }
  std::sort(keys.begin(), keys.end(), [](const AccessKeyRecord* a, const AccessKeyRecord* b) {
    return std::tie(a->principal_kind, a->principal, a->created_at, a->access_key_id) <
           std::tie(b->principal_kind, b->principal, b->created_at, b->access_key_id);
  });
  for (const AccessKeyRecord* key : keys) {
    ++report.access_keys;
    if (now - key->created_at < stale_seconds) continue;
    add("accessKey", key->access_key_id, "old_key",
        key->principal_kind + " " + Quote(key->principal) + "'s key, issued " +
            DateAndAge(key->created_at, days_since(key->created_at)) + ", is still active",
        "xrole " + key->principal_kind + " rotate " + key->principal);
  }
  return report;
}

// ---- keys and audit --------------------------------------------------------------------------

std::vector<PublicKeyInfo> Broker::PublicKeys() const { return state_->keys->PublicKeys(); }

Result<std::string> Broker::RotateSigningKey(const Caller& caller) {
  State& s = *state_;
  if (caller.kind != Caller::Kind::kAdmin) {
    Error error = Denied("only the admin may rotate signing keys");
    s.AuditRefusal(caller, "keys.rotate", error);
    return error;
  }
  std::unique_lock lock(s.mutex);
  std::string previous = s.keys->signer_id();
  XROLE_ASSIGN_OR_RETURN(std::string key_id, s.keys->Rotate());
  s.audit->SetSigner(&s.keys->signer(), key_id);
  std::vector<store::Mutation> mutations;
  for (const auto& key : s.keys->PublicKeys()) {
    mutations.push_back({store::Table::kSigningKeys, key.key_id,
                         Dump({{"id", key.key_id},
                               {"publicKey", crypto::Base64Encode(key.public_key)},
                               {"status", key.active ? "active" : "retired"}})});
  }
  audit::Event event = s.MakeEvent("keys.rotate", caller);
  event.outcome = "ok";
  event.details_json = Dump({{"previousKey", previous}, {"newKey", key_id}});
  // Held across the key file write: assume reads the signer and its id under this lock, so
  // a token's kid always names the key that signed it.
  auto committed = s.Enqueue(std::move(mutations), std::move(event));
  lock.unlock();
  XROLE_RETURN_IF_ERROR(committed.get());
  return key_id;
}

Result<std::vector<store::AuditRow>> Broker::ReadAudit(const Caller& caller, std::int64_t after,
                                                       std::size_t limit) {
  if (caller.kind != Caller::Kind::kAdmin && caller.kind != Caller::Kind::kHuman) {
    return Denied("only the admin or a human may read the audit log");
  }
  return state_->store->ReadAudit(after, limit);
}

namespace {

// The records a prune request removes, found while the chain streams past in seq order: the
// longest run from its first record on that falls under the cut (by number or by age; record
// times never decrease along the chain).
struct PruneCut {
  explicit PruneCut(const PruneAuditRequest& prune_request) : request(prune_request) {}

  void Add(const store::AuditRow& row) {
    if (records++ == 0) first_seq = row.seq;
    last_seq = row.seq;
    if (run_ended) return;
    const bool under_cut =
        request.through_seq > 0 ? row.seq <= request.through_seq : row.time_ms < request.before_ms;
    if (!under_cut) {
      run_ended = true;
      return;
    }
    ++removed;
    through_seq = row.seq;
    through_hash = row.hash;
  }

  const PruneAuditRequest& request;
  std::int64_t records = 0;      // records read
  std::int64_t first_seq = 0;    // the first record read
  std::int64_t last_seq = 0;     // the last record read
  std::int64_t removed = 0;      // records the cut removes, from the first on
  std::int64_t through_seq = 0;  // the last of them
  std::string through_hash;      // and its chain hash
  bool run_ended = false;        // a record that stays was read
};

}  // namespace

Result<audit::VerifyReport> Broker::VerifyAudit(const Caller& caller) {
  if (caller.kind != Caller::Kind::kAdmin && caller.kind != Caller::Kind::kHuman) {
    return Denied("only the admin or a human may verify the audit log");
  }
  std::shared_lock prune_lock(state_->prune_mutex);
  return state_->VerifyChain();
}

Result<PruneAuditResult> Broker::PruneAudit(const Caller& caller,
                                            const PruneAuditRequest& request) {
  State& s = *state_;
  if (caller.kind != Caller::Kind::kAdmin) {
    Error error = Denied("only the admin may prune the audit log");
    s.AuditRefusal(caller, std::string(audit::kPruneEventType), error);
    return error;
  }
  if ((request.through_seq > 0) == (request.before_ms > 0)) {
    return Error(ErrorCode::kInvalidArgument,
                 "give exactly one of `throughSeq` (a record number) and `olderThanDays`");
  }
  std::unique_lock prune_lock(s.prune_mutex);
  // Before anything is read or written: a process reading the log offline refuses the prune.
  std::unique_ptr<store::AuditLock> readers_excluded;
  if (!request.dry_run) {
    XROLE_ASSIGN_OR_RETURN(readers_excluded, s.store->ExcludeAuditReaders());
  }
  PruneCut cut(request);
  XROLE_ASSIGN_OR_RETURN(audit::VerifyReport report,
                         s.VerifyChain([&cut](const store::AuditRow& row) { cut.Add(row); }));
  if (!report.ok) {
    return Error(ErrorCode::kConflict,
                 "the audit chain does not verify (" + std::to_string(report.problems.size()) +
                     " problem(s), first at record " + std::to_string(report.problems[0].seq) +
                     ": " + report.problems[0].message + "); nothing was pruned");
  }
  if (cut.records == 0) return Error(ErrorCode::kInvalidArgument, "the audit log is empty");
  if (request.through_seq > 0 && (cut.removed == 0 || cut.through_seq != request.through_seq)) {
    return Error(ErrorCode::kInvalidArgument, "record " + std::to_string(request.through_seq) +
                                                  " is not in the log (it holds records " +
                                                  std::to_string(cut.first_seq) + ".." +
                                                  std::to_string(cut.last_seq) + ")");
  }
  if (cut.removed == 0) {
    return Error(ErrorCode::kInvalidArgument, "no record is older than the cut-off");
  }
  if (cut.removed == cut.records) {
    return Error(ErrorCode::kInvalidArgument, "the last record (" + std::to_string(cut.last_seq) +
                                                  ") stays: the chain continues from it");
  }
  if (!request.expect_hash.empty() && request.expect_hash != cut.through_hash) {
    return Error(ErrorCode::kInvalidArgument, "record " + std::to_string(cut.through_seq) +
                                                  " has hash " + cut.through_hash +
                                                  ", not the expected " + request.expect_hash);
  }
  PruneAuditResult result;
  result.first_seq = cut.first_seq;
  result.through_seq = cut.through_seq;
  result.hash = cut.through_hash;
  result.records = cut.removed;
  result.dry_run = request.dry_run;
  if (request.dry_run) return result;

  store::CheckpointRow anchor;
  anchor.seq = result.through_seq;
  anchor.hash = result.hash;
  anchor.time_ms = audit::NowMs();
  {
    std::shared_lock lock(s.mutex);  // the signer changes only under the exclusive lock
    anchor.key_id = s.keys->signer_id();
    anchor.signature = crypto::Base64Encode(
        s.keys->signer().Sign(audit::CheckpointMessage(anchor.seq, anchor.hash, anchor.time_ms)));
  }
  // The record first: once the records are gone, it is what lets Verify accept the chain's
  // new start (and a crash between the two leaves a chain that still verifies).
  audit::Event event = s.MakeEvent(std::string(audit::kPruneEventType), caller);
  event.outcome = "ok";
  event.details_json = Dump({{"firstSeq", result.first_seq},
                             {"throughSeq", result.through_seq},
                             {"hash", result.hash},
                             {"records", result.records},
                             {"anchorKey", anchor.key_id}});
  XROLE_ASSIGN_OR_RETURN(result.audit_id, s.audit->AppendAndWait({}, std::move(event)));
  XROLE_RETURN_IF_ERROR(s.store->PruneAudit(result.through_seq, anchor));
  return result;
}

std::string Broker::Metrics() const {
  const State& s = *state_;
  std::ostringstream out;
  auto counter = [&out](std::string_view name, std::string_view help, std::string_view labels,
                        std::uint64_t value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
        << name << labels << ' ' << value << '\n';
  };
  out << "# HELP xrole_decisions_total Authorization decisions by outcome.\n"
         "# TYPE xrole_decisions_total counter\n";
  out << "xrole_decisions_total{decision=\"Allowed\"} " << s.decisions_allowed.load() << '\n';
  out << "xrole_decisions_total{decision=\"ExplicitlyDenied\"} " << s.decisions_explicit_deny.load()
      << '\n';
  out << "xrole_decisions_total{decision=\"ImplicitlyDenied\"} " << s.decisions_implicit_deny.load()
      << '\n';
  out << "xrole_decisions_total{decision=\"Rejected\"} " << s.decisions_rejected.load() << '\n';
  counter("xrole_sessions_issued_total", "Role sessions issued.", "", s.sessions_issued.load());
  counter("xrole_sessions_reused_total",
          "Live sessions handed out again to SDK credential providers.", "",
          s.sessions_reused.load());
  counter("xrole_sessions_revoked_total", "Role sessions revoked.", "", s.revocations.load());
  counter("xrole_auth_failures_total", "Rejected API credentials.", "", s.auth_failures.load());
  const audit::AuditLogStats audit_stats = s.audit->stats();
  counter("xrole_audit_commits_total", "Durable audit transactions (group commits).", "",
          audit_stats.commits);
  counter("xrole_audit_records_total", "Audit records made durable.", "", audit_stats.records);
  counter("xrole_audit_commit_failures_total", "Audit transactions that failed.", "",
          audit_stats.failed_commits);
  out << "# HELP xrole_audit_commit_seconds Time to make one batch of audit records durable.\n"
         "# TYPE xrole_audit_commit_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < audit_stats.commit_buckets.size(); ++i) {
    cumulative += audit_stats.commit_buckets[i];
    out << "xrole_audit_commit_seconds_bucket{le=\"";
    if (i < audit::AuditLogStats::kCommitBounds.size()) {
      out << audit::AuditLogStats::kCommitBounds[i];
    } else {
      out << "+Inf";
    }
    out << "\"} " << cumulative << '\n';
  }
  out << "xrole_audit_commit_seconds_sum " << audit_stats.commit_seconds_sum << '\n'
      << "xrole_audit_commit_seconds_count " << cumulative << '\n';
  out << "# HELP xrole_audit_last_seq Sequence number of the last audit record.\n"
         "# TYPE xrole_audit_last_seq gauge\nxrole_audit_last_seq "
      << s.audit->last_seq() << '\n';
  std::shared_lock lock(s.mutex);
  std::int64_t now = s.Now();
  std::size_t live = 0;
  for (const auto& [id, session] : s.sessions) {
    if (session.record.status == "active" && session.record.expires_at > now) ++live;
  }
  out << "# HELP xrole_sessions_live Sessions neither revoked nor expired.\n"
         "# TYPE xrole_sessions_live gauge\nxrole_sessions_live "
      << live << '\n';
  return out.str();
}

// =============================================================================================
// STS endpoint: SigV4 callers, AssumeRole and GetCallerIdentity on top of the broker
// (docs/sts.md). Errors here are AWS's (sts::StsError); everything else maps onto the methods
// above, so an assume through STS is decided, bound to its run and audited exactly like one
// through the JSON API.
// =============================================================================================

namespace {

sts::StsError StsFailure(std::string code, std::string message) {
  return sts::StsError{std::move(code), std::move(message), ""};
}

constexpr std::string_view kInvalidTokenMessage =
    "The security token included in the request is invalid";
constexpr std::string_view kExpiredTokenMessage =
    "The security token included in the request is expired";

// A stable AWS-style unique id ("AROA" + 17 base32 characters) for an ARN: the same principal
// always gets the same id, as in AWS.
std::string StableAwsId(std::string_view prefix, std::string_view arn) {
  crypto::Digest hash = crypto::Sha256(arn);
  std::string digest(reinterpret_cast<const char*>(hash.data()), 11);  // 88 bits
  return std::string(prefix) + crypto::Base32Encode(digest).substr(0, 17);
}

// The account field of an ARN ("arn:aws:iam::ACCOUNT:role/x"), or "".
std::string AccountOfArn(std::string_view arn) {
  std::size_t start = 0;
  for (int field = 0; field < 4; ++field) {
    start = arn.find(':', start);
    if (start == std::string_view::npos) return "";
    ++start;
  }
  std::size_t end = arn.find(':', start);
  return end == std::string_view::npos ? "" : std::string(arn.substr(start, end - start));
}

// `json_text` (valid JSON) without the whitespace between tokens: the form whose size counts
// against the packed-policy limit and which the session keeps.
std::string CompactJson(std::string_view json_text) {
  std::string out;
  out.reserve(json_text.size());
  bool in_string = false;
  bool escaped = false;
  for (char c : json_text) {
    if (in_string) {
      out += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (c == '"') in_string = true;
    out += c;
  }
  return out;
}

// The AWS error of a refused Assume. `denied` is AWS's AccessDenied text for this caller and
// role; xrole's reason follows it.
sts::StsError StsErrorOf(const Error& error, const std::string& denied) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      return StsFailure("ValidationError", error.message());
    case ErrorCode::kMalformedPolicy:
      return StsFailure("MalformedPolicyDocument", error.message());
    case ErrorCode::kLimitExceeded:
      return StsFailure("PackedPolicyTooLarge", error.message());
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kNotFound:
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
      return StsFailure("AccessDenied", denied + " because " + error.message());
    case ErrorCode::kUnauthenticated:
      return StsFailure("InvalidClientTokenId", std::string(kInvalidTokenMessage));
    case ErrorCode::kExpired:
      return StsFailure("ExpiredToken", std::string(kExpiredTokenMessage));
    case ErrorCode::kUnavailable:
      return StsFailure("ServiceUnavailable", "the audit log is unavailable; try again later");
    case ErrorCode::kInternal:
      break;
  }
  return StsFailure("InternalFailure",
                    "the request processing has failed because of an "
                    "unknown error, exception or failure");
}

}  // namespace

sts::StsResult<StsPrincipal> Broker::AuthenticateSigV4(const sts::SignedRequestView& request) {
  State& s = *state_;
  std::string access_key_id;
  // The AWS error the client sees, plus xrole's reason for the audit record (never a secret,
  // never the session token, never the canonical request).
  auto reject = [&](sts::StsError error, std::string reason = "") -> sts::StsResult<StsPrincipal> {
    s.auth_failures.fetch_add(1, std::memory_order_relaxed);
    audit::Event event = s.MakeEvent("auth.rejected", Caller{});
    event.outcome = "denied";
    event.details_json = Dump({{"via", "sigv4"},
                               {"accessKeyId", access_key_id},
                               {"code", error.code},
                               {"error", reason.empty() ? error.message : reason}});
    s.audit->Append({}, std::move(event), [](Result<std::int64_t>) {});
    error.debug_detail.clear();
    return error;
  };
  auto parsed = sts::ParseSigV4(request);
  if (!parsed.ok()) return reject(parsed.error());
  const sts::SigV4Auth& auth = *parsed;
  access_key_id = auth.access_key_id;
  std::int64_t now = s.Now();

  StsPrincipal principal;
  principal.access_key_id = auth.access_key_id;
  // A problem with the key's state is reported only after the signature verified, so only a
  // holder of the secret learns it.
  std::string problem_code;
  std::string problem;
  {
    std::shared_lock lock(s.mutex);
    const Catalog& catalog = *s.catalog;
    auto session_key = s.session_by_key.find(auth.access_key_id);
    auto key = s.access_keys.find(auth.access_key_id);
    if (session_key != s.session_by_key.end()) {
      const LiveSession& live = s.sessions.at(session_key->second);
      const SessionRecord& record = live.record;
      principal.caller = Caller{Caller::Kind::kSession, record.id, record.agent};
      principal.key_kind = "session";
      principal.run_id = record.run_id;
      principal.identity.arn = record.assumed_role_arn;
      principal.identity.user_id = StableAwsId("AROA", record.role_arn) + ":" + record.session_name;
      principal.identity.account = AccountOfArn(record.role_arn);
      // The session token must be this session's, verified like a bearer token.
      if (auth.security_token.empty()) {
        problem_code = "InvalidClientTokenId";
        problem = "session key `" + record.access_key_id + "` used without its session token";
      } else {
        auto claims = s.VerifySessionToken(auth.security_token, now);
        std::string message;
        std::string state;
        if (!claims.ok()) {
          problem_code = claims.error().code() == ErrorCode::kExpired ? "ExpiredToken"
                                                                      : "InvalidClientTokenId";
          problem = claims.error().message();
        } else if ((*claims)->session_id != record.id ||
                   (*claims)->access_key_id != record.access_key_id) {
          problem_code = "InvalidClientTokenId";
          problem = "the session token belongs to another session";
        } else if (!(state = s.SessionProblem(live, now, &message)).empty()) {
          problem_code = state == "expired_token" || state == "parent_expired"
                             ? "ExpiredToken"
                             : "InvalidClientTokenId";
          problem = message;
        }
      }
    } else if (key != s.access_keys.end()) {
      const AccessKeyRecord& record = key->second;
      principal.key_kind = record.principal_kind;
      if (record.status != "active") {
        problem_code = "InvalidClientTokenId";
        problem = "access key `" + record.access_key_id + "` is " + record.status;
      }
      if (record.principal_kind == "human") {
        principal.caller = Caller::OfHuman(record.principal);
        std::string account = Agent{}.account;
        principal.identity.arn =
            "arn:aws:iam::" + account + ":user/xrole/human/" + record.principal;
        principal.identity.account = account;
        if (!catalog.humans.count(record.principal) && problem_code.empty()) {
          problem_code = "InvalidClientTokenId";
          problem = "human `" + record.principal + "` no longer exists";
        }
      } else {
        principal.caller = Caller::OfAgent(record.principal);
        auto agent = catalog.agents.find(record.principal);
        if (agent != catalog.agents.end()) {
          principal.identity.arn = agent->second.Arn();
          principal.identity.account = agent->second.account;
        }
        if ((agent == catalog.agents.end() || agent->second.disabled) && problem_code.empty()) {
          problem_code = "InvalidClientTokenId";
          problem = "agent `" + record.principal + "` is unknown or disabled";
        }
        if (record.principal_kind == "run") {
          principal.run_id = record.run_id;
          auto run = s.runs.find(record.run_id);
          if (problem_code.empty() && (run == s.runs.end() || run->second.status != "active")) {
            problem_code = "InvalidClientTokenId";
            problem = "run `" + record.run_id + "` is no longer active";
          } else if (problem_code.empty() && run->second.expires_at <= now) {
            problem_code = "ExpiredToken";
            problem = "run `" + record.run_id + "` expired at " + Iso8601(run->second.expires_at);
          }
        } else if (record.principal_kind != "agent" && problem_code.empty()) {
          problem_code = "InvalidClientTokenId";
          problem = "access key `" + record.access_key_id + "` has an unknown kind";
        }
      }
      principal.identity.user_id = StableAwsId("AIDA", principal.identity.arn);
    } else {
      return reject(StsFailure("InvalidClientTokenId", std::string(kInvalidTokenMessage)),
                    "unknown access key id `" + auth.access_key_id + "`");
    }
  }
  sts::SigV4VerifyOptions verify_options;
  verify_options.expected_service = "sts";
  auto verified = sts::VerifySigV4(request, auth, s.keys->DeriveSecret(auth.access_key_id), now,
                                   verify_options);
  if (!verified.ok()) return reject(verified.error());
  if (!problem_code.empty()) {
    std::string_view generic =
        problem_code == "ExpiredToken" ? kExpiredTokenMessage : kInvalidTokenMessage;
    return reject(StsFailure(problem_code, std::string(generic) + ": " + problem), problem);
  }
  return principal;
}

sts::StsResult<sts::AssumeRoleResult> Broker::StsAssumeRole(const StsPrincipal& principal,
                                                            const sts::AssumeRoleRequest& request,
                                                            std::string* session_id) {
  State& s = *state_;
  const std::string denied =
      "User: " + principal.identity.arn +
      " is not authorized to perform: sts:AssumeRole on resource: " + request.role_arn;
  std::shared_ptr<const Catalog> catalog = s.CurrentCatalog();
  const ExecutionRole* role = nullptr;
  for (const auto& [name, candidate] : catalog->roles) {
    if (candidate.Arn() == request.role_arn) role = &candidate;
  }
  if (role == nullptr) {
    Error error = NotFound("no execution role has the ARN " + Quote(request.role_arn));
    s.AuditRefusal(principal.caller, "session.assume", error, {{"roleArn", request.role_arn}});
    return StsFailure("AccessDenied", denied);
  }
  if (request.serial_number || request.token_code) {
    return StsFailure("ValidationError",
                      "SerialNumber and TokenCode are not supported: xrole authenticates agents "
                      "by their keys and gets human consent through approvals");
  }

  AssumeRequest assume;
  assume.role = role->name;
  assume.session_name = request.role_session_name;
  assume.duration_seconds = request.duration_seconds.value_or(0);
  assume.source_identity = request.source_identity.value_or("");
  assume.external_id = request.external_id.value_or("");
  assume.transitive_tag_keys = request.transitive_tag_keys;
  assume.policy_arns = request.policy_arns;
  assume.find_matching_approval = true;

  // The session policy: valid, and with the policy ARNs and session tags within the
  // packed-size limit (measured on the policy without inter-token whitespace, which is what the
  // session keeps).
  std::size_t packed_bytes = 0;
  if (request.policy) {
    auto parsed = policy::ParsePolicy(*request.policy, policy::PolicyKind::kSession, "session");
    if (!parsed.ok()) {
      return StsFailure("MalformedPolicyDocument",
                        "the session policy is malformed: " + parsed.error().ToString());
    }
    assume.policy = CompactJson(*request.policy);
    packed_bytes += assume.policy.size();
  }
  for (const std::string& arn : request.policy_arns) packed_bytes += arn.size();
  std::string named_run;
  for (const auto& tag : request.tags) {
    if (EqualsIgnoreCase(tag.key, "xrole:run")) {
      named_run = tag.value;
      continue;
    }
    bool duplicate = std::any_of(assume.tags.begin(), assume.tags.end(), [&tag](const auto& kv) {
      return EqualsIgnoreCase(kv.first, tag.key);
    });
    if (duplicate) {
      return StsFailure(
          "InvalidParameterValue",
          "Duplicate tag keys found. Please note that Tag keys are case insensitive.");
    }
    assume.tags[tag.key] = tag.value;
    packed_bytes += tag.key.size() + tag.value.size();
  }
  const std::size_t limit = s.options.max_session_policy_bytes;
  int packed_percent = static_cast<int>((packed_bytes * 100 + limit - 1) / limit);
  if (packed_bytes > limit) {
    return StsFailure("PackedPolicyTooLarge", "the session policy and session tags packed to " +
                                                  std::to_string(packed_percent) +
                                                  "% of the allowed size (" +
                                                  std::to_string(packed_bytes) + " of " +
                                                  std::to_string(limit) + " bytes)");
  }

  // The run: the run key's, the signing session's, or for an agent key the one it names.
  Caller caller = principal.caller;
  switch (principal.caller.kind) {
    case Caller::Kind::kSession:
      assume.parent_session_id = principal.caller.name;
      assume.run_id = principal.run_id;
      break;
    case Caller::Kind::kAgent:
      if (principal.key_kind == "run") {
        assume.run_id = principal.run_id;
      } else if (!named_run.empty()) {
        assume.run_id = named_run;
      } else {
        std::shared_lock lock(s.mutex);
        std::int64_t now = s.Now();
        std::vector<std::string> live;
        for (const auto& [id, run] : s.runs) {
          if (run.agent == caller.name && s.RunLive(run, now)) live.push_back(id);
        }
        if (live.size() != 1) {
          return StsFailure(
              "ValidationError",
              "agent `" + caller.name + "` has " + std::to_string(live.size()) +
                  " active runs: sign with the run's credentials (returned when the run "
                  "starts) or name the run with the session tag xrole:run=RUN_ID");
        }
        assume.run_id = live.front();
      }
      break;
    default:
      s.AuditRefusal(caller, "session.assume",
                     Denied("only agents and their sessions may assume roles"),
                     {{"roleArn", request.role_arn}});
      return StsFailure("AccessDenied", denied);
  }
  if (!named_run.empty() && named_run != assume.run_id) {
    return StsFailure("ValidationError", "the session tag xrole:run names run `" + named_run +
                                             "`, but the caller is bound to run `" + assume.run_id +
                                             "`");
  }

  auto assumed = Assume(caller, assume);
  if (!assumed.ok()) return StsErrorOf(assumed.error(), denied);
  if (assumed->pending) {
    return StsFailure("AccessDenied",
                      denied + " because role `" + role->name +
                          "` requires a human approval: " + "approval " + assumed->approval_id +
                          " is pending and must be approved (xrole approve " +
                          assumed->approval_id + "); then repeat the same AssumeRole call");
  }
  const SessionRecord& session = assumed->session;
  if (session_id != nullptr) *session_id = session.id;
  sts::AssumeRoleResult result;
  result.access_key_id = assumed->credentials.access_key_id;
  result.secret_access_key = assumed->credentials.secret_access_key;
  result.session_token = assumed->credentials.session_token;
  result.expiration = Iso8601(assumed->credentials.expiration);
  result.assumed_role_id = StableAwsId("AROA", session.role_arn) + ":" + session.session_name;
  result.assumed_role_arn = session.assumed_role_arn;
  if (request.policy || !request.policy_arns.empty() || !request.tags.empty()) {
    result.packed_policy_size = packed_percent;
  }
  if (!session.source_identity.empty()) result.source_identity = session.source_identity;
  return result;
}

Result<std::int64_t> Broker::RecordStsCall(const StsPrincipal& principal,
                                           const StsCallRecord& call) {
  State& s = *state_;
  audit::Event event = s.MakeEvent("sts.call", principal.caller);
  event.run = principal.run_id;
  event.outcome = call.error_code.empty() ? "ok" : "denied";
  json details = {{"action", call.action},
                  {"requestId", call.request_id},
                  {"accessKeyId", principal.access_key_id},
                  {"keyKind", principal.key_kind}};
  if (!call.role_arn.empty()) details["roleArn"] = call.role_arn;
  if (!call.session_id.empty()) details["sessionId"] = call.session_id;
  if (!call.error_code.empty()) {
    details["code"] = call.error_code;
    details["error"] = call.error_message;
  }
  event.details_json = Dump(details);
  return s.Commit({}, std::move(event));
}

}  // namespace xrole::session
