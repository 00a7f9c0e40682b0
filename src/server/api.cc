#include "server/api.h"

#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "common/thread_name.h"
#include "policy/document.h"
#include "server/authorize_body.h"
#include "server/credentials_api.h"
#include "server/request_json.h"
#include "server/sts_api.h"
#include "session/records.h"

namespace xrole::server {
namespace {

using nlohmann::json;
using session::Caller;
using session::Iso8601;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpResponse JsonResponse(int status, const json& body) {
  HttpResponse response;
  response.status = status;
  response.body = Dump(body);
  return response;
}

HttpResponse ErrorResponse(const Error& error) {
  json body = {{"code", std::string(ErrorCodeName(error.code()))}, {"message", error.message()}};
  if (!error.path().empty()) body["path"] = error.path();
  if (error.location().known()) {
    body["line"] = error.location().line;
    body["column"] = error.location().column;
  }
  return JsonResponse(session::HttpStatusFor(error.code()), {{"error", body}});
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      auto hex = crypto::HexDecode(text.substr(i + 1, 2));
      if (hex.ok()) {
        out += *hex;
        i += 2;
        continue;
      }
    }
    out += text[i] == '+' ? ' ' : text[i];
  }
  return out;
}

std::string QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? "true" : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    std::size_t slash = path.find('/');
    parts.push_back(PercentDecode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}

json RunJson(const session::Run& run) {
  return {{"runId", run.id},
          {"workflow", run.workflow},
          {"agent", run.agent},
          {"onBehalfOf", run.on_behalf_of},
          {"tags", run.tags},
          {"status", run.status},
          {"startedAt", Iso8601(run.started_at)},
          {"expiresAt", Iso8601(run.expires_at)},
          {"endedBy", run.ended_by},
          {"accessKeyId", run.access_key_id}};
}

json SessionJson(const session::SessionRecord& s) {
  return {{"sessionId", s.id},
          {"role", s.role},
          {"assumedRoleArn", s.assumed_role_arn},
          {"runId", s.run_id},
          {"agent", s.agent},
          {"onBehalfOf", s.on_behalf_of},
          {"sessionName", s.session_name},
          {"sourceIdentity", s.source_identity},
          {"policyArns", s.policy_arns},
          {"tags", s.tags},
          {"transitiveTagKeys", s.transitive_tag_keys},
          {"parentSessionId", s.parent_session_id},
          {"chained", s.chained},
          {"issuedAt", Iso8601(s.issued_at)},
          {"expiresAt", Iso8601(s.expires_at)},
          {"accessKeyId", s.access_key_id},
          {"policyHash", s.policy_hash},
          {"status", s.status},
          {"revokeReason", s.revoke_reason}};
}

json ApprovalJson(const session::Approval& a) {
  return {{"approvalId", a.id},
          {"role", a.role},
          {"runId", a.run_id},
          {"agent", a.agent},
          {"sessionName", a.session_name},
          {"durationSeconds", a.duration_seconds},
          {"sessionPolicyHash", a.session_policy_hash},
          {"parentSessionId", a.parent_session_id},
          {"requestedBy", a.requested_by},
          {"requestedAt", Iso8601(a.requested_at)},
          {"expiresAt", Iso8601(a.expires_at)},
          {"status", a.status},
          {"decidedBy", a.decided_by},
          {"reason", a.reason}};
}

// One decision as the API answers it (members in sorted order).
void WriteDecision(xrole::json::Writer& writer, const session::AuthorizeResult& r) {
  writer.BeginObject()
      .Field("auditId", r.audit_id)
      .Field("decision", policy::DecisionName(r.decision));
  if (!r.error_code.empty()) {
    writer.Key("error").BeginObject().Field("code", r.error_code).Field("message", r.error);
    writer.EndObject();
  }
  if (!r.explanation.empty()) {
    writer.Key("explanation").BeginArray();
    for (const auto& line : r.explanation) writer.String(line);
    writer.EndArray();
  }
  session::WriteReasons(writer.Key("reasons"), r.reasons);
  writer.FieldIfSet("sessionId", r.session_id).EndObject();
}

// What a role can reach, from its compiled statements: the quick answer to "how bad would it
// be if this role's session leaked".
json BlastRadius(const session::ExecutionRole& role) {
  std::set<std::string> services, allowed, denied, resources;
  bool wildcard_action = false, wildcard_resource = false, not_action = false;
  for (const auto& named : role.permissions) {
    for (const auto& st : named.policy.document().statements) {
      for (const auto& action : st.actions) {
        if (st.effect == policy::Effect::kDeny) {
          denied.insert(action);
          continue;
        }
        allowed.insert(action);
        if (st.not_action) not_action = true;
        if (action == "*" || action.find(":*") != std::string::npos) wildcard_action = true;
        services.insert(action.substr(0, action.find(':')));
      }
      if (st.effect == policy::Effect::kAllow && st.resources) {
        if (st.not_resource) not_action = true;
        for (const auto& resource : *st.resources) {
          resources.insert(resource);
          if (resource == "*") wildcard_resource = true;
        }
      }
    }
  }
  return {{"services", services},
          {"allowedActionPatterns", allowed},
          {"deniedActionPatterns", denied},
          {"resourcePatterns", resources},
          {"wildcardActions", wildcard_action},
          {"wildcardResources", wildcard_resource},
          {"usesNotActionOrNotResource", not_action},
          {"boundary", role.boundary.has_value()}};
}

json DriftJson(const session::DriftReport& report) {
  json findings = json::array();
  for (const auto& f : report.findings) {
    json finding = {
        {"workflow", f.workflow}, {"role", f.role},
        {"kind", f.kind},         {"action", f.action},
        {"resource", f.resource}, {"decision", std::string(policy::DecisionName(f.decision))}};
    if (!f.statement.empty()) finding["statement"] = f.statement;
    if (f.granted_actions > 0) {
      finding["grantedActions"] = f.granted_actions;
      finding["unneededActions"] = f.unneeded_actions;
    }
    findings.push_back(std::move(finding));
  }
  const bool drift = std::any_of(report.findings.begin(), report.findings.end(),
                                 [](const auto& f) { return f.kind != "conditional"; });
  return {{"drift", drift},
          {"checked", report.checked},
          {"undeclared", report.undeclared},
          {"findings", findings}};
}

json ReviewJson(const session::ReviewReport& report) {
  json findings = json::array();
  for (const auto& f : report.findings) {
    findings.push_back({{"kind", f.kind},
                        {"name", f.name},
                        {"code", f.code},
                        {"detail", f.detail},
                        {"action", f.action}});
  }
  return {
      {"staleDays", report.stale_days},
      {"asOf", Iso8601(report.as_of)},
      {"checked",
       {{"roles", report.roles}, {"agents", report.agents}, {"accessKeys", report.access_keys}}},
      {"findings", findings}};
}

json RoleSummary(const session::ExecutionRole& role) {
  return {{"name", role.name},
          {"arn", role.Arn()},
          {"account", role.account},
          {"owner", role.owner},
          {"objective", role.objective},
          {"environment", role.environment},
          {"maxSessionDuration", role.max_session_seconds},
          {"approvalRequired", role.approval_required},
          {"reviewBy", role.review_by},
          {"version", role.hash}};
}

// A fixed pool for handlers that wait on the audit log.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this, i] {
        NameThisThread("xrole-pool-" + std::to_string(i));
        Loop();
      });
    }
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  void Post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

struct Api::Impl {
  session::Broker& broker;
  WorkerPool pool;

  Impl(session::Broker& b, const ApiOptions& options) : broker(b), pool(options.worker_threads) {}

  Result<Caller> Authenticate(const HttpRequest& request) {
    const std::string* header = request.Header("authorization");
    return broker.Authenticate(header == nullptr ? "" : *header);
  }

  void Handle(HttpRequest&& request, Responder respond) {
    std::vector<std::string> parts = SplitPath(request.path);
    const std::string& method = request.method;
    auto at = [&](std::size_t i) -> const std::string& {
      static const std::string kEmpty;
      return i < parts.size() ? parts[i] : kEmpty;
    };
    if (parts.size() == 1 && parts[0] == "healthz" && method == "GET") {
      bool ok = broker.healthy();
      respond(JsonResponse(ok ? 200 : 503, {{"status", ok ? "ok" : "audit log unavailable"}}));
      return;
    }
    if (parts.size() == 1 && parts[0] == "metrics" && method == "GET") {
      HttpResponse response;
      response.content_type = "text/plain; version=0.0.4";
      response.body = broker.Metrics();
      respond(std::move(response));
      return;
    }
    // The STS Query API (sts_api.h) shares the root path; it may wait on the audit log.
    if (IsStsRequest(request)) {
      pool.Post([this, request = std::move(request), respond = std::move(respond)]() mutable {
        respond(HandleStsRequest(broker, request));
      });
      return;
    }
    // The AWS SDKs' container-credentials fetch (credentials_api.h): its own Authorization form.
    if (IsContainerCredentialsRequest(request)) {
      pool.Post([this, request = std::move(request), respond = std::move(respond)]() mutable {
        respond(HandleContainerCredentials(broker, request));
      });
      return;
    }
    if (at(0) != "v1") {
      respond(JsonError(404, "not_found", "no such resource `" + request.path + "`"));
      return;
    }
    const std::string& resource = at(1);
    if (resource == "authorize" && method == "POST" && parts.size() == 2) {
      HandleAuthorize(std::move(request), std::move(respond));
      return;
    }
    if (resource == "keys" && method == "GET" && parts.size() == 2) {
      json keys = json::array();
      for (const auto& key : broker.PublicKeys()) {
        keys.push_back({{"keyId", key.key_id},
                        {"algorithm", "Ed25519"},
                        {"publicKey", crypto::Base64UrlEncode(key.public_key)},
                        {"active", key.active}});
      }
      respond(JsonResponse(200, {{"keys", keys}, {"tokenFormat", "xrt1"}}));
      return;
    }
    // Everything else is authenticated and may wait on the audit log: off the I/O threads.
    pool.Post(
        [this, request = std::move(request), respond = std::move(respond),
         parts = std::move(parts)]() mutable { respond(HandleAuthenticated(request, parts)); });
  }

  HttpResponse HandleAuthenticated(const HttpRequest& request,
                                   const std::vector<std::string>& parts) {
    auto caller = Authenticate(request);
    if (!caller.ok()) return ErrorResponse(caller.error());
    auto body = ParseBody(request.method == "POST" && !(parts.size() == 2 && parts[1] == "apply")
                              ? request.body
                              : std::string());
    if (!body.ok()) return ErrorResponse(body.error());
    auto result = Route(*caller, request, parts, *body);
    if (!result.ok()) return ErrorResponse(result.error());
    return std::move(*result);
  }

  Result<HttpResponse> Route(const Caller& caller, const HttpRequest& request,
                             const std::vector<std::string>& p, const json& body) {
    const std::string& m = request.method;
    std::size_t n = p.size();
    const std::string& r = p[1];
    if (r == "apply" && n == 2 && m == "POST") return Apply(caller, request);
    if (r == "roles" && m == "GET" && n <= 3) return Roles(n == 3 ? p[2] : "");
    if (r == "runs" && m == "POST" && n == 2) return StartRun(caller, body);
    if (r == "runs" && m == "GET" && n == 3) {
      XROLE_ASSIGN_OR_RETURN(auto run, broker.GetRun(p[2]));
      return JsonResponse(200, RunJson(run));
    }
    if (r == "runs" && m == "POST" && n == 4 && p[3] == "end") {
      XROLE_ASSIGN_OR_RETURN(std::int64_t revoked, broker.EndRun(caller, p[2]));
      return JsonResponse(200, {{"runId", p[2]}, {"revoked", revoked}});
    }
    if (r == "sessions" && m == "POST" && n == 2) return Assume(caller, body);
    if (r == "sessions" && m == "GET" && n == 3) {
      XROLE_ASSIGN_OR_RETURN(auto s, broker.GetSession(caller, p[2]));
      return JsonResponse(200, SessionJson(s));
    }
    if (r == "drift" && m == "GET" && n == 2) {
      XROLE_ASSIGN_OR_RETURN(auto report,
                             broker.Drift(caller, QueryParam(request.query, "workflow")));
      return JsonResponse(200, DriftJson(report));
    }
    if (r == "offboard" && m == "POST" && n == 2) return Offboard(caller, body);
    if (r == "audit" && m == "POST" && n == 3 && p[2] == "prune") return PruneAudit(caller, body);
    if (r == "review" && m == "GET" && n == 2) return Review(caller, request);
    if (r == "approvals" && m == "GET" && n == 2) {
      if (caller.kind != Caller::Kind::kAdmin && caller.kind != Caller::Kind::kHuman) {
        return Error(ErrorCode::kPermissionDenied, "only humans and the admin list approvals");
      }
      json list = json::array();
      for (const auto& a : broker.ListApprovals(caller, QueryParam(request.query, "all").empty())) {
        list.push_back(ApprovalJson(a));
      }
      return JsonResponse(200, {{"approvals", list}});
    }
    if (r == "approvals" && m == "POST" && n == 4 && (p[3] == "approve" || p[3] == "deny")) {
      XROLE_ASSIGN_OR_RETURN(std::string reason, GetString(body, "reason"));
      XROLE_ASSIGN_OR_RETURN(auto a,
                             broker.DecideApproval(caller, p[2], p[3] == "approve", reason));
      return JsonResponse(200, ApprovalJson(a));
    }
    if (r == "revoke" && m == "POST" && n == 2) {
      session::RevokeRequest revoke;
      XROLE_ASSIGN_OR_RETURN(revoke.session_id, GetString(body, "sessionId"));
      XROLE_ASSIGN_OR_RETURN(revoke.run_id, GetString(body, "runId"));
      XROLE_ASSIGN_OR_RETURN(revoke.agent, GetString(body, "agent"));
      XROLE_ASSIGN_OR_RETURN(revoke.role, GetString(body, "role"));
      XROLE_ASSIGN_OR_RETURN(revoke.reason, GetString(body, "reason"));
      XROLE_ASSIGN_OR_RETURN(std::int64_t revoked, broker.Revoke(caller, revoke));
      return JsonResponse(200, {{"revoked", revoked}});
    }
    if ((r == "agents" || r == "humans") && m == "POST" && n == 4 &&
        (p[3] == "credentials" || p[3] == "rotate")) {
      XROLE_ASSIGN_OR_RETURN(auto key, broker.IssueKey(caller, r == "agents" ? "agent" : "human",
                                                       p[2], p[3] == "rotate"));
      return JsonResponse(201, {{"accessKeyId", key.access_key_id},
                                {"secretAccessKey", key.secret_access_key},
                                {"principal", key.principal},
                                {"bearerToken", key.access_key_id + ":" + key.secret_access_key}});
    }
    if (r == "keys" && m == "POST" && n == 3 && p[2] == "rotate") {
      XROLE_ASSIGN_OR_RETURN(std::string key_id, broker.RotateSigningKey(caller));
      return JsonResponse(200, {{"keyId", key_id}});
    }
    if (r == "audit" && m == "GET" && n == 2) return ReadAudit(caller, request, false);
    if (r == "audit" && m == "GET" && n == 3 && p[2] == "export") {
      return ReadAudit(caller, request, true);
    }
    if (r == "audit" && m == "GET" && n == 3 && p[2] == "verify") {
      XROLE_ASSIGN_OR_RETURN(auto report, broker.VerifyAudit(caller));
      json problems = json::array();
      for (const auto& problem : report.problems) {
        problems.push_back(
            {{"seq", problem.seq}, {"kind", problem.kind}, {"message", problem.message}});
      }
      return JsonResponse(report.ok ? 200 : 409, {{"ok", report.ok},
                                                  {"records", report.records},
                                                  {"lastSeq", report.last_seq},
                                                  {"lastHash", report.last_hash},
                                                  {"checkpoints", report.checkpoints},
                                                  {"lastCheckpointSeq", report.last_checkpoint_seq},
                                                  {"prunedThrough", report.pruned_through},
                                                  {"problems", problems}});
    }
    return Error(ErrorCode::kNotFound, "no such resource `" + m + " " + request.path + "`");
  }

  Result<HttpResponse> Apply(const Caller& caller, const HttpRequest& request) {
    XROLE_ASSIGN_OR_RETURN(auto documents,
                           session::ParseObjectDocuments(request.body, "request body"));
    std::vector<std::string> deletions;
    std::string prune = QueryParam(request.query, "delete");
    for (std::size_t start = 0; !prune.empty() && start <= prune.size();) {
      std::size_t comma = prune.find(',', start);
      deletions.push_back(prune.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    bool dry_run = QueryParam(request.query, "dryRun") == "true";
    XROLE_ASSIGN_OR_RETURN(auto applied, broker.Apply(caller, documents, deletions, dry_run));
    json changes = json::array();
    for (const auto& c : applied.changes) {
      changes.push_back({{"object", c.object}, {"action", c.action}});
    }
    return JsonResponse(200, {{"changes", changes},
                              {"retiredKeys", applied.retired_keys},
                              {"dryRun", dry_run},
                              {"auditId", applied.audit_id}});
  }

  Result<HttpResponse> Offboard(const Caller& caller, const json& body) {
    // Unknown members are refused: a misspelt `reason` must not vanish from the audit record.
    for (const auto& [key, value] : body.items()) {
      if (key != "kind" && key != "name" && key != "reason") {
        return Error(ErrorCode::kInvalidArgument,
                     "unknown member `" + key + "`: expected `kind`, `name` and `reason`", key);
      }
    }
    session::OffboardRequest offboard;
    XROLE_ASSIGN_OR_RETURN(offboard.kind, GetString(body, "kind", true));
    XROLE_ASSIGN_OR_RETURN(offboard.name, GetString(body, "name", true));
    XROLE_ASSIGN_OR_RETURN(offboard.reason, GetString(body, "reason"));
    XROLE_ASSIGN_OR_RETURN(auto result, broker.Offboard(caller, offboard));
    json out = session::OffboardJson(result);
    out["auditId"] = result.audit_id;
    return JsonResponse(200, out);
  }

  Result<HttpResponse> PruneAudit(const Caller& caller, const json& body) {
    for (const auto& [key, value] : body.items()) {
      if (key != "throughSeq" && key != "olderThanDays" && key != "dryRun" && key != "expectHash") {
        return Error(ErrorCode::kInvalidArgument,
                     "unknown member `" + key +
                         "`: expected `throughSeq` or `olderThanDays`, `dryRun`, `expectHash`",
                     key);
      }
    }
    session::PruneAuditRequest prune;
    XROLE_ASSIGN_OR_RETURN(prune.through_seq, GetInt(body, "throughSeq"));
    XROLE_ASSIGN_OR_RETURN(std::int64_t days, GetInt(body, "olderThanDays"));
    XROLE_ASSIGN_OR_RETURN(prune.expect_hash, GetString(body, "expectHash"));
    if (body.contains("dryRun")) {
      if (!body["dryRun"].is_boolean()) {
        return Error(ErrorCode::kInvalidArgument, "`dryRun` must be true or false", "dryRun");
      }
      prune.dry_run = body["dryRun"].get<bool>();
    }
    if (prune.through_seq < 0 || days < 0 || days > 36500) {
      return Error(ErrorCode::kInvalidArgument,
                   "`throughSeq` must be a record number and `olderThanDays` 1..36500 days");
    }
    if (days > 0) prune.before_ms = audit::NowMs() - days * 86'400'000;
    XROLE_ASSIGN_OR_RETURN(auto result, broker.PruneAudit(caller, prune));
    return JsonResponse(200, {{"firstSeq", result.first_seq},
                              {"throughSeq", result.through_seq},
                              {"hash", result.hash},
                              {"records", result.records},
                              {"dryRun", result.dry_run},
                              {"auditId", result.audit_id}});
  }

  Result<HttpResponse> Review(const Caller& caller, const HttpRequest& request) {
    std::int64_t stale_days = session::kDefaultReviewStaleDays;
    const std::string text = QueryParam(request.query, "staleDays");
    if (!text.empty()) {
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), stale_days);
      if (error != std::errc() || end != text.data() + text.size()) {
        return Error(ErrorCode::kInvalidArgument,
                     "`staleDays` must be a whole number of days, not `" + text + "`", "staleDays");
      }
    }
    XROLE_ASSIGN_OR_RETURN(auto report, broker.Review(caller, stale_days));
    return JsonResponse(200, ReviewJson(report));
  }

  Result<HttpResponse> Roles(const std::string& name) {
    auto catalog = broker.catalog();
    if (name.empty()) {
      json roles = json::array();
      for (const auto& [n, role] : catalog->roles) roles.push_back(RoleSummary(role));
      return JsonResponse(200, {{"roles", roles}});
    }
    auto it = catalog->roles.find(name);
    if (it == catalog->roles.end()) {
      return Error(ErrorCode::kNotFound, "no execution role named `" + name + "`");
    }
    const auto& role = it->second;
    json out = RoleSummary(role);
    out["description"] = role.description;
    out["tags"] = role.tags;
    out["trust"] = json::parse(role.trust.json, nullptr, false);
    json permissions = json::array();
    for (const auto& p : role.permissions) {
      permissions.push_back({{"name", p.name}, {"policy", json::parse(p.json, nullptr, false)}});
    }
    out["permissions"] = permissions;
    if (role.boundary) out["boundary"] = json::parse(role.boundary->json, nullptr, false);
    out["blastRadius"] = BlastRadius(role);
    json workflows = json::array();
    for (const auto& [wn, wf] : catalog->workflows) {
      if (std::find(wf.roles.begin(), wf.roles.end(), name) != wf.roles.end()) {
        workflows.push_back(wn);
      }
    }
    out["workflows"] = workflows;
    return JsonResponse(200, out);
  }

  Result<HttpResponse> StartRun(const Caller& caller, const json& body) {
    session::StartRunRequest start;
    XROLE_ASSIGN_OR_RETURN(start.workflow, GetString(body, "workflow", true));
    XROLE_ASSIGN_OR_RETURN(start.agent, GetString(body, "agent"));
    XROLE_ASSIGN_OR_RETURN(start.on_behalf_of, GetString(body, "onBehalfOf"));
    XROLE_ASSIGN_OR_RETURN(start.ttl_seconds, GetInt(body, "ttlSeconds"));
    XROLE_ASSIGN_OR_RETURN(start.tags, GetTags(body, "tags"));
    XROLE_ASSIGN_OR_RETURN(auto run, broker.StartRun(caller, start));
    json out = RunJson(run);
    // The run's access key pair for the STS endpoint (docs/sts.md); the secret is shown once.
    out["credentials"] = {{"accessKeyId", run.access_key_id},
                          {"secretAccessKey", run.secret_access_key}};
    return JsonResponse(201, out);
  }

  Result<HttpResponse> Assume(const Caller& caller, const json& body) {
    session::AssumeRequest assume;
    XROLE_ASSIGN_OR_RETURN(assume.role, GetString(body, "role", true));
    // A run's own key assumes in its run, so it need not name it.
    const bool run_key = caller.kind == Caller::Kind::kRun;
    XROLE_ASSIGN_OR_RETURN(assume.run_id, GetString(body, "runId", !run_key));
    if (run_key && assume.run_id.empty()) assume.run_id = caller.name;
    XROLE_ASSIGN_OR_RETURN(assume.session_name, GetString(body, "sessionName"));
    XROLE_ASSIGN_OR_RETURN(assume.duration_seconds, GetInt(body, "durationSeconds"));
    auto policy = body.find("policy");
    if (policy != body.end() && !policy->is_null()) {
      assume.policy = policy->is_string() ? policy->get<std::string>() : Dump(*policy);
    }
    XROLE_ASSIGN_OR_RETURN(assume.policy_arns, GetStringList(body, "policyArns"));
    XROLE_ASSIGN_OR_RETURN(assume.tags, GetTags(body, "tags"));
    XROLE_ASSIGN_OR_RETURN(assume.source_identity, GetString(body, "sourceIdentity"));
    XROLE_ASSIGN_OR_RETURN(assume.external_id, GetString(body, "externalId"));
    if (auto keys = body.find("transitiveTagKeys"); keys != body.end() && !keys->is_null()) {
      if (!keys->is_array()) {
        return Error(ErrorCode::kInvalidArgument, "`transitiveTagKeys` must be an array of strings",
                     "transitiveTagKeys");
      }
      for (const auto& key : *keys) {
        if (!key.is_string()) {
          return Error(ErrorCode::kInvalidArgument,
                       "`transitiveTagKeys` must be an array of strings", "transitiveTagKeys");
        }
        assume.transitive_tag_keys.push_back(key.get<std::string>());
      }
    }
    XROLE_ASSIGN_OR_RETURN(assume.parent_session_id, GetString(body, "parentSessionId"));
    XROLE_ASSIGN_OR_RETURN(assume.agent, GetString(body, "agent"));
    XROLE_ASSIGN_OR_RETURN(assume.approval_id, GetString(body, "approvalId"));
    if (auto reuse = body.find("reuse"); reuse != body.end() && !reuse->is_null()) {
      if (!reuse->is_boolean()) {
        return Error(ErrorCode::kInvalidArgument, "`reuse` must be a boolean", "reuse");
      }
      // A credential provider repeats the same request: it gets the live session it holds,
      // or the approval already opened for the request (docs/sdk-credentials.md).
      assume.reuse = reuse->get<bool>();
      assume.find_matching_approval = assume.reuse;
    }
    XROLE_ASSIGN_OR_RETURN(auto result, broker.Assume(caller, assume));
    if (result.pending) {
      return JsonResponse(202, {{"approvalId", result.approval_id},
                                {"status", "pending"},
                                {"auditId", result.audit_id}});
    }
    json out = SessionJson(result.session);
    out["credentials"] = {{"accessKeyId", result.credentials.access_key_id},
                          {"secretAccessKey", result.credentials.secret_access_key},
                          {"sessionToken", result.credentials.session_token},
                          {"expiration", Iso8601(result.credentials.expiration)}};
    out["auditId"] = result.audit_id;
    if (result.reused) out["reused"] = true;
    return JsonResponse(result.reused ? 200 : 201, out);
  }

  Result<HttpResponse> ReadAudit(const Caller& caller, const HttpRequest& request, bool lines) {
    std::int64_t after = 0;
    std::size_t limit = lines ? 0 : 1000;
    std::string after_text = QueryParam(request.query, "after");
    std::string limit_text = QueryParam(request.query, "limit");
    try {
      if (!after_text.empty()) after = std::stoll(after_text);
      if (!limit_text.empty()) {
        long long parsed = std::stoll(limit_text);
        if (parsed < 0) throw std::invalid_argument("negative");
        limit = static_cast<std::size_t>(parsed);
      }
    } catch (const std::exception&) {
      return Error(ErrorCode::kInvalidArgument,
                   "`after` must be an integer and `limit` a non-negative integer");
    }
    XROLE_ASSIGN_OR_RETURN(auto rows, broker.ReadAudit(caller, after, limit));
    if (lines) {
      HttpResponse response;
      response.content_type = "application/x-ndjson";
      for (const auto& row : rows) response.body += audit::ExportLine(row) + "\n";
      return response;
    }
    json records = json::array();
    for (const auto& row : rows) records.push_back(json::parse(audit::ExportLine(row)));
    return JsonResponse(200,
                        {{"records", records}, {"next", rows.empty() ? after : rows.back().seq}});
  }

  void HandleAuthorize(HttpRequest&& request, Responder respond) {
    std::optional<AuthorizeBody> fast = ParseAuthorizeBodyFast(request.body);
    Result<AuthorizeBody> body = fast ? std::move(*fast) : ParseAuthorizeBody(request.body);
    if (!body.ok()) return respond(ErrorResponse(body.error()));
    std::vector<session::AuthorizeRequest> requests = std::move(body->requests);
    const bool is_batch = body->is_batch;
    // The access-key form trusts the caller to have verified the request signature: only the
    // admin (a trusted enforcement point) may use it.
    bool by_key = std::any_of(requests.begin(), requests.end(),
                              [](const auto& r) { return r.session_token.empty(); });
    if (by_key) {
      auto caller = Authenticate(request);
      if (!caller.ok()) return respond(ErrorResponse(caller.error()));
      if (caller->kind != Caller::Kind::kAdmin) {
        return respond(JsonError(403, "permission_denied",
                                 "authorizing by `accessKeyId` requires the admin token"));
      }
    }
    const bool flush_after_round = CallAfterRound();
    broker.AuthorizeBatch(
        std::move(requests),
        [respond = std::move(respond), is_batch](std::vector<session::AuthorizeResult> results) {
          // Called on the committing thread (the I/O thread after its round, or the audit
          // writer): the body is rendered on the connection's I/O thread.
          HttpResponse response;
          if (!is_batch) {
            const auto& r = results.front();
            if (r.error_code == "audit_unavailable") {
              response.status = 503;
            } else if (!r.error_code.empty()) {
              response.status = 401;
            }
          }
          response.render = [results = std::move(results), is_batch](HttpResponse& rendered) {
            xrole::json::Writer writer(256 * results.size());
            if (is_batch) {
              writer.BeginObject().Key("results").BeginArray();
              for (const auto& r : results) WriteDecision(writer, r);
              writer.EndArray().EndObject();
            } else {
              WriteDecision(writer, results.front());
            }
            rendered.body = writer.Take();
          };
          respond(std::move(response));
        },
        flush_after_round);
  }
};

Api::Api(session::Broker& broker, ApiOptions options)
    : impl_(std::make_unique<Impl>(broker, options)) {}
Api::~Api() = default;

std::function<void()> Api::after_round() {
  return [impl = impl_.get()] { impl->broker.FlushDecisions(); };
}

Handler Api::handler() {
  return [impl = impl_.get()](HttpRequest&& request, Responder respond) {
    impl->Handle(std::move(request), std::move(respond));
  };
}

}  // namespace xrole::server
