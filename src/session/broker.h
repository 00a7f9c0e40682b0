// broker.h: the execution-role broker. It holds the working state in memory (catalog of roles
// as code, runs, sessions, approvals, access keys), decides every request against it, and
// writes every change through the audit log to the store before the caller is answered (see
// audit/audit.h): a result delivered by any method below is durable and audited.
//
// Threading: every method may be called from any thread. Reads (Authorize, lookups) take a
// shared lock; changes take an exclusive lock only for the in-memory update and never while
// waiting for the disk. Blocking methods wait for their audit record; Authorize and
// AuthorizeBatch answer through a callback after their records are durable, so an event loop
// never blocks on them.
//
// Security contract: a token or access key is verified (signature, expiry, revocation of the
// session, its run and every ancestor) before any policy is read; any error while deciding is
// a deny, audited; context keys that describe the principal are supplied by the broker and
// override the caller's; secrets are never stored (see keyring.h) nor audited.
#ifndef XROLE_SESSION_BROKER_H_
#define XROLE_SESSION_BROKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/audit.h"
#include "policy/catalogue.h"
#include "session/keyring.h"
#include "session/objects.h"
#include "store/store.h"
#include "sts/protocol.h"
#include "sts/sigv4.h"
#include "xrole/policy.h"
#include "xrole/status.h"

namespace xrole::session {

// The authenticated caller of an API operation.
// kRun is a run's own access key (returned when the run starts): its agent, for that run only.
// It may assume roles in its run (POST /v1/sessions, the SDK credential providers) and nothing
// else, and stops working when the run ends.
struct Caller {
  enum class Kind { kAnonymous, kAdmin, kAgent, kHuman, kSession, kRun };
  Kind kind = Kind::kAnonymous;
  std::string name;   // agent or human name; session id for kSession; run id for kRun
  std::string agent;  // for kSession and kRun: the agent holding the session or run

  static Caller Admin() { return {Kind::kAdmin, "admin", ""}; }
  static Caller OfAgent(std::string name) { return {Kind::kAgent, name, name}; }
  static Caller OfHuman(std::string name) { return {Kind::kHuman, std::move(name), ""}; }
  static Caller OfRun(std::string run_id, std::string agent) {
    return {Kind::kRun, std::move(run_id), std::move(agent)};
  }
  // "admin", "agent:NAME", "human:NAME", "session:ID", "run:ID"
  std::string Describe() const;
};

struct BrokerOptions {
  std::int64_t default_session_seconds = 900;
  std::int64_t min_session_seconds = 60;
  std::int64_t max_chained_session_seconds = 3600;  // role chaining cap, as in AWS
  std::int64_t default_run_seconds = 3600;
  std::size_t max_session_policy_bytes = 10240;
  audit::AuditLogOptions audit;
  // How many audit records VerifyAudit and PruneAudit read at a time while they stream the
  // chain through the verifier (store::ForEachAuditRow).
  std::size_t audit_page_rows = store::kAuditPageRows;
  // The AWS action catalogue, for drift (see DriftFinding); optional.
  std::shared_ptr<const policy::ActionCatalogue> actions;
  // Epoch seconds; injectable so tests can move time.
  std::function<std::int64_t()> now;
};

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::int64_t expiration = 0;  // epoch seconds
};

struct Run {
  std::string id;
  std::string workflow;
  std::string agent;
  std::string on_behalf_of;  // human who started it ("" when the agent acts on its own)
  std::map<std::string, std::string> tags;
  std::int64_t started_at = 0;
  std::int64_t expires_at = 0;
  std::int64_t ended_at = 0;
  std::string status;  // "active", "ended", "revoked"
  std::string ended_by;
  // The run's access key pair: what the agent gives its AWS SDK to call AssumeRole on the STS
  // endpoint (sessions obtained with it are bound to this run). The key is revoked when the
  // run ends or is revoked. The secret is set only in StartRun's answer (shown once, never
  // stored).
  std::string access_key_id;
  std::string secret_access_key;
};

struct SessionRecord {
  std::string id;
  std::string role;
  std::string role_arn;
  std::string assumed_role_arn;
  std::string run_id;
  std::string agent;
  std::string on_behalf_of;
  std::string session_name;
  std::string source_identity;
  // JSON text, "" when none: the inline policy, merged with the managed policies named by
  // policy_arns when there are any (see AssumeRequest::policy_arns).
  std::string session_policy;
  std::string session_policy_hash;       // "" when none
  std::vector<std::string> policy_arns;  // ManagedPolicy ARNs, in request order
  std::map<std::string, std::string> tags;
  // Session tag keys passed on to chained sessions (AWS TransitiveTagKeys), including those
  // inherited from the parent.
  std::vector<std::string> transitive_tag_keys;
  std::string parent_session_id;
  bool chained = false;  // assumed from a parent session of another role
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
  std::string access_key_id;
  std::string key_id;
  std::string policy_hash;  // role version + session policy at issue
  std::string status;       // "active", "revoked"
  std::int64_t revoked_at = 0;
  std::string revoke_reason;
};

struct Approval {
  std::string id;
  std::string role;
  std::string run_id;
  std::string agent;
  std::string session_name;
  std::int64_t duration_seconds = 0;
  std::string session_policy_hash;
  // SHA-256 of the requested session name, tags and source identity: redeeming with any other
  // value of them is refused (an approver approves exactly what was shown).
  std::string request_hash;
  std::string parent_session_id;
  std::string requested_by;
  std::int64_t requested_at = 0;
  std::int64_t expires_at = 0;
  std::string status;  // "pending", "approved", "denied", "used", "expired", "cancelled"
  std::string decided_by;
  std::int64_t decided_at = 0;
  std::string reason;
};

struct ApplyResult {
  struct Change {
    std::string object;  // "ExecutionRole/deployer"
    std::string action;  // "created", "updated", "unchanged", "deleted"
  };
  std::vector<Change> changes;
  // Access keys of deleted agents and humans, revoked in the same transaction.
  std::vector<std::string> retired_keys;
  bool dry_run = false;
  std::int64_t audit_id = 0;
};

struct StartRunRequest {
  std::string workflow;
  std::string agent;
  std::string on_behalf_of;
  std::int64_t ttl_seconds = 0;  // 0: default
  std::map<std::string, std::string> tags;
};

struct AssumeRequest {
  std::string role;
  std::string run_id;
  std::string session_name;
  std::int64_t duration_seconds = 0;  // 0: default
  std::string policy;                 // session policy JSON, "" for none
  // At most 10 ARNs of the catalog's ManagedPolicy objects, used as session policies too:
  // their statements follow the inline policy's in one session-policy document (policies of
  // one layer combine as the statements of one document do), which is what the session, its
  // hash, approvals and reuse see.
  std::vector<std::string> policy_arns;
  std::map<std::string, std::string> tags;
  std::vector<std::string> transitive_tag_keys;  // each must be a key of `tags`
  std::string source_identity;
  std::string external_id;        // the trust policy's sts:ExternalId ("" = absent)
  std::string parent_session_id;  // delegation (same role) or chaining (another role)
  std::string agent;              // sub-agent for a delegated session ("" = the caller)
  std::string approval_id;        // redeem an approved request
  // Without approval_id: redeem an approved, unused approval bound to exactly this request if
  // there is one, and answer an identical still-pending request with its approval instead of
  // opening another (the STS endpoint, where a client can only repeat the same call).
  bool find_matching_approval = false;
  // Hand out a live session the caller already holds for exactly this request (no parent)
  // instead of issuing a new one, when session_reuse.h allows it: what SDK credential
  // providers ask for, since SDKs fetch credentials again whenever 15 minutes or less remain.
  // The answer's credentials are that session's (secret re-derived, token re-signed).
  bool reuse = false;
};

struct AssumeResult {
  bool pending = false;  // approval required: approval_id is set, nothing else
  bool reused = false;   // an existing session was handed out again (audited session.reuse)
  std::string approval_id;
  SessionRecord session;
  Credentials credentials;
  std::int64_t audit_id = 0;
};

struct AuthorizeRequest {
  std::string session_token;  // either this ...
  std::string access_key_id;  // ... or a session's access key id
  std::string action;
  std::string resource;
  policy::Context context;  // caller-supplied request context
  bool explain = false;
};

struct AuthorizeResult {
  policy::Decision decision = policy::Decision::kImplicitlyDenied;
  std::vector<policy::Reason> reasons;
  std::vector<std::string> explanation;
  std::string session_id;
  std::string error;          // why it was denied without evaluation ("" when evaluated)
  std::string error_code;     // "invalid_token", "expired_token", "revoked", ...
  std::int64_t audit_id = 0;  // 0 only when the audit log failed (then always a deny)
};

// `xrole drift`: execution roles against the task sets their workflows declare (Workflow
// `needs`, groups of actions and the resources they act on). A workflow drifts when none of its
// roles allows a declared action on any resource of its group ("missing": the workflow will
// fail), or when an Allow statement of one of its roles grants an action that no need covers
// ("excess": more than the task needs). Requests are decided as for a session of the role
// (guardrails, permissions, boundary; no session policy) with the role's own principal context
// and no request context; a need that an Allow statement names but whose conditions that empty
// context does not meet is reported as "conditional" and is not drift. An Allow pattern a need
// covers as written (`ec2:Describe*` by `ec2:Describe*` or `ec2:*`) is not excess. Otherwise,
// with an action catalogue (BrokerOptions::actions), a pattern that names its service
// (`s3:Get*`) stands for the catalogue's actions it matches: it is excess only when some of them
// are not needed, and the finding lists those. Without a catalogue, or for a pattern whose
// service is a wildcard, the pattern is compared as written. (A pattern also matches actions
// AWS adds after the pinned catalogue; drift cannot see those.)
struct DriftFinding {
  std::string workflow;
  std::string role;      // missing, conditional: the workflow's roles, comma-separated
  std::string kind;      // "missing", "conditional" or "excess"
  std::string action;    // the need's action, or the statement's pattern ("NotAction ..." too)
  std::string resource;  // the need's resources ("*" when it names none), or the statement's
  policy::Decision decision = policy::Decision::kImplicitlyDenied;
  std::string statement;  // excess: "permissions[0] Statement[2]"
  // Excess of a pattern expanded through the catalogue: how many actions it grants, and those
  // no need covers ("service:Name", sorted). Zero and empty when it was compared as written.
  std::size_t granted_actions = 0;
  std::vector<std::string> unneeded_actions;
};

struct DriftReport {
  std::vector<std::string> checked;     // workflows with declared needs, in name order
  std::vector<std::string> undeclared;  // workflows that declare none (nothing to compare)
  std::vector<DriftFinding> findings;
};

// `xrole offboard`: retiring an agent, an execution role or a workflow so that nothing of it
// stays usable, in one store transaction described by one audit record ("offboard"):
//  - agent: every session it holds (with the sessions delegated or chained from them) is
//    revoked, its runs are revoked with their run keys, its own access keys are revoked, the
//    approvals it asked for are cancelled, and the Agent is deleted;
//  - role: every session of the role (and its subtree) is revoked, the approvals for it are
//    cancelled, and the ExecutionRole is deleted; refused (kConflict, nothing changes) while a
//    workflow lists the role;
//  - workflow: its runs are revoked with their sessions and run keys, the approvals asked for in
//    them are cancelled, and the Workflow is deleted.
// A role whose trust shorthand names the agent or workflow keeps deciding as before: its trust
// becomes the IAM trust document the shorthand expands to (ExpandTrustShorthandsNaming).
// Approvals are cancelled while pending or approved and unused. Revocations take effect for
// every request that follows the call.
// Audit retention (docs/broker.md "Retention"): removes the oldest records, through
// `through_seq` or through the last record older than `before_ms` (exactly one of the two).
// With `dry_run` only the cut is computed. `expect_hash`, when set, must be the chain hash of
// the cut record (so that what a client archived is what is removed).
struct PruneAuditRequest {
  std::int64_t through_seq = 0;
  std::int64_t before_ms = 0;  // epoch ms
  bool dry_run = false;
  std::string expect_hash;
};

struct PruneAuditResult {
  std::int64_t first_seq = 0;    // the first record removed (the previous cut + 1)
  std::int64_t through_seq = 0;  // the last record removed
  std::string hash;              // its chain hash: the next record links to it
  std::int64_t records = 0;      // how many were removed
  bool dry_run = false;
  std::int64_t audit_id = 0;  // the `audit.prune` record (0 for a dry run)
};

struct OffboardRequest {
  std::string kind;  // "agent", "role" or "workflow"
  std::string name;
  std::string reason;  // recorded in the audit log and as the sessions' revoke reason
};

struct OffboardResult {
  std::string kind;
  std::string name;
  std::string object;  // the deleted catalog object, "Agent/NAME"
  std::string reason;
  // What was changed, each in id order; nothing already inactive is listed.
  std::vector<std::string> revoked_sessions;
  std::vector<std::string> ended_runs;           // marked "revoked"
  std::vector<std::string> retired_keys;         // access key ids (agent and run keys)
  std::vector<std::string> cancelled_approvals;  // marked "cancelled"
  std::vector<std::string> rewritten_roles;      // roles whose trust shorthand named the object
  std::int64_t audit_id = 0;
};

// `xrole review`: what role and agent owners should look at, from the broker's state (the
// catalog and the runs, sessions and access keys tables). One finding per item:
//  - role `review_overdue`: its reviewBy date has passed;
//  - role `no_owner`: no owner is set;
//  - role `never_assumed` / `not_assumed`: no session of it was ever issued / none in the last
//    `stale_days` days (session issue times);
//  - agent `no_sponsor`: no sponsor, or one that is not a registered Human;
//  - agent `never_active` / `inactive`: it never started a run nor received a delegated
//    session / not in the last `stale_days` days;
//  - accessKey `old_key`: an agent's or human's key still active `stale_days` days or more
//    after it was issued.
struct ReviewFinding {
  std::string kind;    // "role", "agent" or "accessKey"
  std::string name;    // the role, agent or access key id
  std::string code;    // one of the codes above
  std::string detail;  // what was found, with the dates it rests on
  std::string action;  // what to do about it, usually an `xrole` command line
};

inline constexpr std::int64_t kDefaultReviewStaleDays = 30;

struct ReviewReport {
  std::int64_t stale_days = kDefaultReviewStaleDays;
  std::int64_t as_of = 0;  // epoch seconds: the broker's clock when the review was made
  std::size_t roles = 0;   // how many of each were checked
  std::size_t agents = 0;
  std::size_t access_keys = 0;
  // Roles and agents by name, then keys by principal and issue time.
  std::vector<ReviewFinding> findings;
};

struct RevokeRequest {
  std::string session_id;
  std::string run_id;
  std::string agent;
  std::string role;
  std::string reason;
};

struct IssuedKey {
  std::string access_key_id;
  std::string secret_access_key;  // shown once
  std::string principal;          // "agent:NAME" / "human:NAME"
};

// The signer of an STS request, authenticated by its SigV4 signature (docs/sts.md).
struct StsPrincipal {
  Caller caller;                 // kAgent (agent or run key), kHuman, or kSession
  std::string access_key_id;     // the signing key (never its secret)
  std::string key_kind;          // "agent", "human", "run" or "session"
  std::string run_id;            // run key: its run; session: the session's run
  sts::CallerIdentity identity;  // GetCallerIdentity's Arn, UserId and Account
};

// One STS call's outcome, for its audit record.
struct StsCallRecord {
  std::string action;      // "AssumeRole", ... ("" when the request named none)
  std::string request_id;  // the x-amzn-RequestId answered
  std::string error_code;  // AWS error code, "" on success
  std::string error_message;
  std::string role_arn;    // AssumeRole: the requested role
  std::string session_id;  // AssumeRole: the session issued
};

class Broker {
 public:
  // Opens the key ring under `data_dir`, loads state from `store`, and starts the audit log.
  static Result<std::unique_ptr<Broker>> Open(const std::string& data_dir,
                                              std::unique_ptr<store::Store> store,
                                              BrokerOptions options = {});
  ~Broker();

  // ---- authentication of API callers ----
  // `Authorization` header value: "Bearer <admin token>", "Bearer AKID:SECRET" (an agent's, a
  // human's or a live run's key), or "Bearer <session token>". Failures are audited.
  Result<Caller> Authenticate(std::string_view authorization_header);

  // ---- roles as code ----
  Result<ApplyResult> Apply(const Caller& caller, const std::vector<ObjectDocument>& documents,
                            const std::vector<std::string>& deletions, bool dry_run);
  std::shared_ptr<const Catalog> catalog() const;

  // ---- principals' credentials ----
  Result<IssuedKey> IssueKey(const Caller& caller, std::string_view kind, std::string_view name,
                             bool rotate);

  // ---- runs and sessions ----
  Result<Run> StartRun(const Caller& caller, const StartRunRequest& request);
  Result<std::int64_t> EndRun(const Caller& caller, std::string_view run_id);  // sessions revoked
  Result<Run> GetRun(std::string_view run_id) const;
  Result<AssumeResult> Assume(const Caller& caller, const AssumeRequest& request);
  Result<SessionRecord> GetSession(const Caller& caller, std::string_view session_id) const;

  // ---- approvals ----
  std::vector<Approval> ListApprovals(const Caller& caller, bool pending_only) const;
  // Every workflow, or the one named (kNotFound when there is none). Admin and humans only.
  Result<DriftReport> Drift(const Caller& caller, std::string_view workflow) const;
  Result<Approval> DecideApproval(const Caller& caller, std::string_view approval_id, bool approve,
                                  std::string_view reason);

  // ---- decisions ----
  void Authorize(AuthorizeRequest request, std::function<void(AuthorizeResult)> done);
  // With `flush_later`, the decisions' records are queued without waking the audit writer and
  // `done` runs only after the caller (or anyone) calls FlushDecisions(): an event loop decides
  // every request of a round, then flushes once on its own thread (see AuditLog::Flush).
  void AuthorizeBatch(std::vector<AuthorizeRequest> requests,
                      std::function<void(std::vector<AuthorizeResult>)> done,
                      bool flush_later = false);
  // Commits the decisions queued with `flush_later` (by any thread) and answers them.
  void FlushDecisions();
  AuthorizeResult AuthorizeAndWait(AuthorizeRequest request);

  // ---- revocation ----
  Result<std::int64_t> Revoke(const Caller& caller, const RevokeRequest& request);
  // Admin only. Errors: kInvalidArgument for an unknown kind or an empty name, kNotFound for
  // an unknown object, kConflict for a role that a workflow lists (see OffboardRequest).
  Result<OffboardResult> Offboard(const Caller& caller, const OffboardRequest& request);

  // ---- access review ----
  // Admin and humans only. `stale_days` is at least 1 (kInvalidArgument otherwise).
  Result<ReviewReport> Review(const Caller& caller, std::int64_t stale_days) const;

  // ---- keys and audit ----
  std::vector<PublicKeyInfo> PublicKeys() const;
  Result<std::string> RotateSigningKey(const Caller& caller);
  Result<std::vector<store::AuditRow>> ReadAudit(const Caller& caller, std::int64_t after,
                                                 std::size_t limit);
  // Admin and humans only. Verifies the stored chain against its checkpoints, streaming it
  // through audit::ChainVerifier `audit_page_rows` records at a time; waits for a prune in
  // progress (and a prune for it).
  Result<audit::VerifyReport> VerifyAudit(const Caller& caller);
  // Admin only. Verifies the whole chain first and refuses (kConflict) if it does not verify:
  // a cut is anchored by a fresh checkpoint signed by the server key, which must never vouch
  // for a damaged chain. Then appends an `audit.prune` record naming the cut and its hash, and
  // removes the records through it (Store::PruneAudit). kInvalidArgument for a cut that is not
  // after the previous one and before the last record, or a hash that does not match.
  Result<PruneAuditResult> PruneAudit(const Caller& caller, const PruneAuditRequest& request);

  // ---- STS endpoint (docs/sts.md) ----
  // Authenticates a SigV4-signed request: the access key of an agent, a human or a run
  // (AKIA...), or of a session (ASIA..., with its session token as X-Amz-Security-Token).
  // Errors carry AWS codes: InvalidClientTokenId (unknown, inactive or revoked key, revoked
  // session, ended run), SignatureDoesNotMatch, RequestExpired (clock skew), ExpiredToken
  // (expired session or run), and ParseSigV4's. Every rejection is audited (auth.rejected).
  sts::StsResult<StsPrincipal> AuthenticateSigV4(const sts::SignedRequestView& request);
  // AssumeRole on Assume: RoleArn names a catalog role; the run is the run key's, the signing
  // session's (role chaining) or, for an agent key, the one named by the session tag
  // `xrole:run` or the agent's only active run. A role that requires approval answers
  // AccessDenied naming the pending approval; the same call succeeds once a human approved it.
  sts::StsResult<sts::AssumeRoleResult> StsAssumeRole(const StsPrincipal& principal,
                                                      const sts::AssumeRoleRequest& request,
                                                      std::string* session_id = nullptr);
  // Appends the call's audit record and waits until it is durable.
  Result<std::int64_t> RecordStsCall(const StsPrincipal& principal, const StsCallRecord& call);

  // Prometheus text exposition.
  std::string Metrics() const;
  bool healthy() const;
  const std::string& admin_token() const;

 private:
  struct State;
  Broker();
  std::unique_ptr<State> state_;
};

// Maps an error code to its HTTP status (400, 401, 403, 404, 409, 413, 503, 500).
int HttpStatusFor(ErrorCode code);

}  // namespace xrole::session

#endif  // XROLE_SESSION_BROKER_H_
