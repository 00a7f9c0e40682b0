// client_commands.h: the `xrole` subcommands that drive a running server through its HTTP/JSON
// API (docs/cli.md). Each Run* function is one subcommand's whole behaviour; main.cc only
// parses flags and dispatches. Return values are exit statuses (see client.h).
#ifndef XROLE_CLI_COMMANDS_CLIENT_COMMANDS_H_
#define XROLE_CLI_COMMANDS_CLIENT_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cli/commands/client.h"

namespace xrole::cli {

// ---- roles as code ----

struct ApplyOptions {
  std::vector<std::string> paths;  // files, or directories (their *.yaml, *.yml, *.json)
  bool dry_run = false;
  std::vector<std::string> deletions;  // "Kind/name"
};
// `xrole apply`: every document of every path in one transaction; prints the changes.
int RunApply(const ClientOptions& client, const ApplyOptions& options);

// `xrole roles [NAME]`: the list, or one role with its blast-radius summary.
int RunRoles(const ClientOptions& client, const std::string& name);

// `xrole drift [WORKFLOW]`: roles against their workflows' declared needs (GET /v1/drift).
// Exit 1 when any role drifts, so that a pipeline can stop on it.
int RunDrift(const ClientOptions& client, const std::string& workflow);

// ---- offboarding and access review ----

struct OffboardOptions {
  std::string kind;  // "agent", "role" or "workflow"
  std::string name;
  std::string reason;
};
// `xrole offboard agent|role|workflow NAME` (POST /v1/offboard): prints what was revoked,
// ended, retired, cancelled and rewritten.
int RunOffboard(const ClientOptions& client, const OffboardOptions& options);

// `xrole review [--stale-days N]` (GET /v1/review): one finding per role, agent or access key
// to look at, with a suggested action. Exit 1 when there is any finding, so that a pipeline can
// stop on it. `stale_days` 0 leaves the server's default (30).
int RunReview(const ClientOptions& client, std::int64_t stale_days);

// ---- credentials and keys ----

// `xrole agent|human credentials|rotate NAME`: issues an access key pair (the secret is shown
// once). `kind` is "agent" or "human".
int RunIssueCredentials(const ClientOptions& client, const std::string& kind,
                        const std::string& name, bool rotate);

// `xrole keys [rotate]`: the public verification keys, or a new signing key.
int RunKeys(const ClientOptions& client, bool rotate);

// ---- runs, sessions, revocation ----

struct RunStartOptions {
  std::string workflow;
  std::string agent;
  std::string on_behalf_of;
  std::string ttl;                // duration text
  std::vector<std::string> tags;  // k=v
};
// Text output: the run id alone on the first line, then the details.
int RunRunStart(const ClientOptions& client, const RunStartOptions& options);
int RunRunEnd(const ClientOptions& client, const std::string& run_id);
int RunRunShow(const ClientOptions& client, const std::string& run_id);
int RunSessionShow(const ClientOptions& client, const std::string& session_id);

struct AssumeOptions {
  std::string role;
  std::string run_id;
  std::string session_name;
  std::string duration;                  // duration text
  std::string policy_file;               // session policy (JSON), "-" for standard input
  std::vector<std::string> policy_arns;  // ManagedPolicy ARNs added to the session policy
  std::vector<std::string> tags;
  std::string source_identity;
  std::string parent_session_id;
  std::string agent;  // sub-agent of a delegated session
  std::string approval_id;
  std::string format;  // "env", "json" or "text"; "" follows --output
};
// `xrole assume`: 0 with credentials, 3 when a human approval is pending (its id is printed).
int RunAssume(const ClientOptions& client, const AssumeOptions& options);

struct RevokeOptions {
  std::string session_id;
  std::string run_id;
  std::string agent;
  std::string role;
  std::string reason;
};
int RunRevoke(const ClientOptions& client, const RevokeOptions& options);

// ---- AWS SDK credential providers (docs/sdk-credentials.md) ----

struct CredentialProcessOptions {
  std::string role;
  std::string run_id;
  std::string duration;  // duration text; "" = one hour
  std::string session_name;
  std::string policy_file;  // session policy (JSON), "-" for standard input
};
// `xrole credential-process`: an assume with reuse, printed as the JSON the AWS SDKs'
// `credential_process` setting reads. Failures: a message on stderr and a non-zero status.
int RunCredentialProcess(const ClientOptions& client, const CredentialProcessOptions& options);

// ---- decisions ----

struct AuthorizeOptions {
  std::string session_token;  // "" = XROLE_SESSION_TOKEN
  std::string access_key_id;  // instead of a token: a session's access key id (admin only)
  std::string action;
  std::string resource;
  std::vector<std::string> context;  // k=v; a repeated key makes a multivalued key
  bool explain = false;
  std::string batch_file;  // JSON Lines of requests, "-" for standard input
};
// `xrole authorize`: 0 Allowed (every request of a batch), 1 denied, 2 error.
int RunAuthorize(const ClientOptions& client, const AuthorizeOptions& options);

// ---- approvals ----

int RunApprovals(const ClientOptions& client, bool all);
// `xrole approve|deny ID`.
int RunDecideApproval(const ClientOptions& client, const std::string& approval_id, bool approve,
                      const std::string& reason);

// ---- audit and status ----

struct AuditTailOptions {
  std::int64_t after = 0;
  std::int64_t limit = 0;  // 0: the server's default page
  bool follow = false;
};
int RunAuditTail(const ClientOptions& client, const AuditTailOptions& options);

// `xrole audit verify`: online (GET /v1/audit/verify) or, with `offline`, straight from the
// data directory's database and key ring. 0 when the chain is intact, 1 when problems are found.
int RunAuditVerify(const ClientOptions& client, bool offline);

// `xrole audit export`: JSON Lines to `output_file` ("" or "-" for standard output).
int RunAuditExport(const ClientOptions& client, const std::string& output_file, std::int64_t after);

// `xrole audit prune`: removes the oldest audit records (POST /v1/audit/prune). Unless
// `no_archive`, the records are first exported to `archive_file` (which must not exist) and
// checked against the cut: their count, first seq and the last record's hash; the server then
// removes exactly those (`expectHash`). `dry_run` only reports the cut.
struct AuditPruneOptions {
  std::int64_t through_seq = 0;
  std::int64_t older_than_days = 0;
  std::string archive_file;
  bool no_archive = false;
  bool dry_run = false;
};
int RunAuditPrune(const ClientOptions& client, const AuditPruneOptions& options);

// `xrole health` (GET /healthz) and `xrole metrics` (GET /metrics).
int RunHealth(const ClientOptions& client);
int RunMetrics(const ClientOptions& client);

}  // namespace xrole::cli

#endif  // XROLE_CLI_COMMANDS_CLIENT_COMMANDS_H_
