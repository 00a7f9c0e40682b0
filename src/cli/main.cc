// main.cc: the `xrole` command. Parses flags and dispatches to one Run* function per subcommand
// (src/cli/commands/); nothing else happens here. The client commands (docs/cli.md) share the
// options of client.h: --server, --token, --data and --output.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "cli/commands/client_commands.h"
#include "cli/commands/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"xrole: execution roles for AI agents and automated workflows"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "xrole 0.1.0");

  xrole::cli::EvalOptions eval;
  CLI::App* eval_cmd =
      app.add_subcommand("eval", "evaluate authorization cases (JSON Lines) against IAM policies");
  eval_cmd->add_option("input", eval.input, "cases file, or - for standard input");
  eval_cmd->add_flag("--explain", eval.explain, "include the step-by-step reasoning");
  eval_cmd->add_flag("--reference", eval.reference, "use the reference evaluator");
  eval_cmd->add_flag("--no-index", eval.no_index, "compiled evaluator without its action index");
  eval_cmd->add_option("--semantics", eval.semantics, "documented (default) or oracle")
      ->check(CLI::IsMember({"documented", "oracle"}));

  std::vector<std::string> lint_files;
  std::string lint_format = "text";
  std::string lint_kind = "auto";
  CLI::App* lint_cmd = app.add_subcommand("lint", "validate policy documents");
  lint_cmd->add_option("files", lint_files, "policy documents")->required();
  lint_cmd->add_option("--format", lint_format, "text, json or sarif")
      ->check(CLI::IsMember({"text", "json", "sarif"}));
  lint_cmd->add_option("--kind", lint_kind,
                       "auto, identity, resource, trust, boundary, session, scp or rcp");

  xrole::cli::ExportAwsOptions export_aws;
  CLI::App* export_top_cmd =
      app.add_subcommand("export", "export execution roles to other systems");
  export_top_cmd->require_subcommand(1);
  CLI::App* export_aws_cmd = export_top_cmd->add_subcommand(
      "aws", "write AWS IAM roles, policies, CloudFormation and Terraform for execution roles");
  export_aws_cmd
      ->add_option("-f,--filename", export_aws.paths,
                   "a file or directory (YAML or JSON); repeat for more")
      ->required()
      ->allow_extra_args(false);  // one value per -f, so ROLE names can follow
  export_aws_cmd->add_option("--out", export_aws.out_dir,
                             "output directory (default: xrole-aws-export)");
  export_aws_cmd
      ->add_option("--format", export_aws.format, "json, cloudformation, terraform or all")
      ->check(CLI::IsMember({"json", "cloudformation", "terraform", "all"}));
  export_aws_cmd->add_option("roles", export_aws.roles, "roles to export (default: all)");

  xrole::cli::ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "run the broker and its HTTP/JSON API");
  serve_cmd->add_option("--data", serve.data_dir, "data directory (keys, tokens, database)");
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (port 0: any free port)");
  serve_cmd->add_option("--store", serve.store, "sqlite:PATH (default: DATA/xrole.db)");
  serve_cmd->add_option("--load", serve.load, "roles-as-code files to apply at start");
  serve_cmd->add_option("--io-threads", serve.io_threads, "HTTP I/O threads");
  serve_cmd->add_option("--workers", serve.workers, "threads for calls that wait on the audit log");
  serve_cmd->add_option("--min-session-seconds", serve.min_session_seconds,
                        "shortest session a caller may ask for");
  serve_cmd
      ->add_option("--audit-commit-delay-us", serve.audit_commit_delay_us,
                   "while busy, wait up to this long for more audit records per transaction")
      ->capture_default_str()
      ->check(CLI::Range(0LL, 100000LL));

  // ---- client commands: a running server through its HTTP/JSON API ----
  namespace cli = xrole::cli;
  cli::ClientOptions client;
  auto with_client_options = [&client](CLI::App* cmd, bool token = true) {
    cmd->add_option("--server", client.server,
                    "server URL (default: XROLE_SERVER or http://127.0.0.1:8600)");
    if (token) {
      cmd->add_option("--token", client.token,
                      "credential (default: XROLE_TOKEN or the admin token in DATA)");
    }
    cmd->add_option("--data", client.data_dir,
                    "data directory holding admin.token (default: XROLE_DATA or ./xrole-data)");
    cmd->add_option("--output", client.output, "text (default) or json")
        ->check(CLI::IsMember({"text", "json"}));
    return cmd;
  };

  cli::ApplyOptions apply;
  CLI::App* apply_cmd = with_client_options(
      app.add_subcommand("apply", "apply roles-as-code files in one transaction"));
  apply_cmd->add_option("-f,--filename", apply.paths, "files or directories (YAML or JSON)");
  apply_cmd->add_flag("--dry-run", apply.dry_run, "validate and show the changes only");
  apply_cmd->add_option("--delete", apply.deletions, "objects to delete: Kind/name,...")
      ->delimiter(',');

  std::string name;  // the one positional NAME or ID of the command that is parsed
  CLI::App* roles_cmd =
      with_client_options(app.add_subcommand("roles", "list execution roles, or inspect one"));
  roles_cmd->add_option("name", name, "role to inspect");
  CLI::App* drift_cmd = with_client_options(
      app.add_subcommand("drift", "check roles against what their workflows declare they need"));
  drift_cmd->add_option("workflow", name, "workflow to check (default: all)");

  cli::OffboardOptions offboard;
  CLI::App* offboard_cmd = with_client_options(app.add_subcommand(
      "offboard", "retire an agent, role or workflow: revoke, end and delete all of it"));
  offboard_cmd->add_option("kind", offboard.kind, "agent, role or workflow")
      ->required()
      ->check(CLI::IsMember({"agent", "role", "workflow"}));
  offboard_cmd->add_option("name", offboard.name, "the agent, role or workflow")->required();
  offboard_cmd->add_option("--reason", offboard.reason, "recorded in the audit log");
  std::int64_t stale_days = 0;  // 0: the server's default
  CLI::App* review_cmd = with_client_options(
      app.add_subcommand("review", "roles, agents and keys their owners should look at"));
  review_cmd
      ->add_option("--stale-days", stale_days, "unused for this many days is stale (default 30)")
      ->check(CLI::Range(1, 36500));

  CLI::App* agent_cmd = app.add_subcommand("agent", "agents' access keys");
  CLI::App* human_cmd = app.add_subcommand("human", "humans' access keys");
  CLI::App* agent_credentials = nullptr;
  CLI::App* agent_rotate = nullptr;
  CLI::App* human_credentials = nullptr;
  CLI::App* human_rotate = nullptr;
  for (auto [group, credentials, rotate] :
       {std::tuple{agent_cmd, &agent_credentials, &agent_rotate},
        std::tuple{human_cmd, &human_credentials, &human_rotate}}) {
    group->require_subcommand(1);
    *credentials = with_client_options(
        group->add_subcommand("credentials", "issue an access key pair (secret shown once)"));
    *rotate = with_client_options(
        group->add_subcommand("rotate", "issue a new key pair and retire the previous ones"));
    for (CLI::App* leaf : {*credentials, *rotate}) {
      leaf->add_option("name", name, "principal name")->required();
    }
  }

  CLI::App* run_cmd = app.add_subcommand("run", "runs of workflows");
  run_cmd->require_subcommand(1);
  cli::RunStartOptions run_start;
  CLI::App* run_start_cmd =
      with_client_options(run_cmd->add_subcommand("start", "start a run (prints its id first)"));
  run_start_cmd->add_option("--workflow", run_start.workflow, "workflow")->required();
  run_start_cmd->add_option("--agent", run_start.agent, "agent (default: the calling agent)");
  run_start_cmd->add_option("--on-behalf-of", run_start.on_behalf_of, "human");
  run_start_cmd->add_option("--ttl", run_start.ttl, "run lifetime (15m, 1h)");
  run_start_cmd->add_option("--tag", run_start.tags, "KEY=VALUE (repeatable)");
  CLI::App* run_end_cmd = with_client_options(
      run_cmd->add_subcommand("end", "end a run and revoke every session in it"));
  CLI::App* run_show_cmd = with_client_options(run_cmd->add_subcommand("show", "show a run"));
  for (CLI::App* leaf : {run_end_cmd, run_show_cmd}) {
    leaf->add_option("run", name, "run id")->required();
  }
  CLI::App* session_cmd = app.add_subcommand("session", "role sessions");
  session_cmd->require_subcommand(1);
  CLI::App* session_show_cmd =
      with_client_options(session_cmd->add_subcommand("show", "show a session"));
  session_show_cmd->add_option("session", name, "session id")->required();

  cli::AssumeOptions assume;
  CLI::App* assume_cmd =
      with_client_options(app.add_subcommand("assume", "assume an execution role within a run"));
  assume_cmd->add_option("--role", assume.role, "execution role")->required();
  assume_cmd->add_option("--run", assume.run_id, "run id (optional with the run's own key)");
  assume_cmd->add_option("--session-name", assume.session_name, "session name");
  assume_cmd->add_option("--duration", assume.duration, "session lifetime (15m, 1h)");
  assume_cmd->add_option("--policy", assume.policy_file, "session policy file (JSON), - for stdin");
  assume_cmd->add_option("--policy-arn", assume.policy_arns,
                         "managed policy ARN added to the session policy (repeatable, at most 10)");
  assume_cmd->add_option("--tag", assume.tags, "session tag KEY=VALUE (repeatable)");
  assume_cmd->add_option("--source-identity", assume.source_identity, "source identity");
  assume_cmd->add_option("--parent", assume.parent_session_id, "parent session (delegation)");
  assume_cmd->add_option("--agent", assume.agent, "sub-agent of a delegated session");
  assume_cmd->add_option("--approval", assume.approval_id, "redeem an approved request");
  assume_cmd->add_option("--format", assume.format, "env, json or text")
      ->check(CLI::IsMember({"env", "json", "text"}));

  cli::CredentialProcessOptions credential_process;
  CLI::App* credential_process_cmd = with_client_options(app.add_subcommand(
      "credential-process", "print role-session credentials for AWS SDKs' credential_process"));
  credential_process_cmd->add_option("--role", credential_process.role, "execution role")
      ->required();
  credential_process_cmd->add_option("--run", credential_process.run_id,
                                     "run id (optional with the run's own key)");
  credential_process_cmd->add_option("--duration", credential_process.duration,
                                     "session lifetime (default 1h)");
  credential_process_cmd->add_option("--session-name", credential_process.session_name,
                                     "session name");
  credential_process_cmd->add_option("--policy-file", credential_process.policy_file,
                                     "session policy file (JSON), - for stdin");

  cli::AuthorizeOptions authorize;
  CLI::App* authorize_cmd = with_client_options(
      app.add_subcommand("authorize", "decide a request made with a session"), false);
  authorize_cmd->add_option("--token", authorize.session_token,
                            "session token (default: XROLE_SESSION_TOKEN)");
  authorize_cmd->add_option("--access-key-id", authorize.access_key_id,
                            "a session's access key id instead of its token (admin only)");
  authorize_cmd->add_option("--action", authorize.action, "service:Action");
  authorize_cmd->add_option("--resource", authorize.resource, "resource ARN");
  authorize_cmd->add_option("--context", authorize.context, "KEY=VALUE (repeatable)");
  authorize_cmd->add_flag("--explain", authorize.explain, "add the step-by-step reasoning");
  authorize_cmd->add_option("--batch", authorize.batch_file, "JSON Lines of requests, - for stdin");

  cli::RevokeOptions revoke;
  CLI::App* revoke_cmd = with_client_options(app.add_subcommand("revoke", "revoke sessions"));
  revoke_cmd->add_option("--session", revoke.session_id, "a session and its delegated subtree");
  revoke_cmd->add_option("--run", revoke.run_id, "every session of a run");
  revoke_cmd->add_option("--agent", revoke.agent, "every session of an agent");
  revoke_cmd->add_option("--role", revoke.role, "every session of a role");
  revoke_cmd->add_option("--reason", revoke.reason, "recorded in the audit log");

  bool all_approvals = false;
  std::string reason;
  CLI::App* approvals_cmd =
      with_client_options(app.add_subcommand("approvals", "list pending approvals"));
  approvals_cmd->add_flag("--all", all_approvals, "decided and expired ones too");
  CLI::App* approve_cmd =
      with_client_options(app.add_subcommand("approve", "approve a pending request"));
  CLI::App* deny_cmd = with_client_options(app.add_subcommand("deny", "deny a pending request"));
  for (CLI::App* leaf : {approve_cmd, deny_cmd}) {
    leaf->add_option("approval", name, "approval id")->required();
    leaf->add_option("--reason", reason, "recorded with the decision");
  }

  CLI::App* audit_cmd = app.add_subcommand("audit", "the hash-chained audit log");
  audit_cmd->require_subcommand(1);
  cli::AuditTailOptions tail;
  CLI::App* tail_cmd =
      with_client_options(audit_cmd->add_subcommand("tail", "print audit records"));
  tail_cmd->add_option("--after", tail.after, "records after this seq");
  tail_cmd->add_option("--limit", tail.limit, "at most this many records");
  tail_cmd->add_flag("--follow", tail.follow, "keep printing new records until interrupted");
  bool offline = false;
  CLI::App* verify_cmd =
      with_client_options(audit_cmd->add_subcommand("verify", "verify the chain and checkpoints"));
  verify_cmd->add_flag("--offline", offline, "read DATA/xrole.db and DATA/keys, no server");
  std::string export_file;
  std::int64_t export_after = 0;
  CLI::App* export_cmd =
      with_client_options(audit_cmd->add_subcommand("export", "audit records as JSON Lines"));
  export_cmd->add_option("-o,--out", export_file, "output file (default: standard output)");
  export_cmd->add_option("--after", export_after, "records after this seq");
  cli::AuditPruneOptions prune;
  CLI::App* prune_cmd = with_client_options(
      audit_cmd->add_subcommand("prune", "archive and remove the oldest audit records"));
  auto* prune_through =
      prune_cmd->add_option("--through", prune.through_seq, "remove records up to this seq");
  prune_cmd->add_option("--older-than-days", prune.older_than_days, "remove older records")
      ->excludes(prune_through);
  auto* prune_archive = prune_cmd->add_option("--archive", prune.archive_file,
                                              "write the removed records here first (JSON Lines)");
  prune_cmd->add_flag("--no-archive", prune.no_archive, "remove without keeping a copy")
      ->excludes(prune_archive);
  prune_cmd->add_flag("--dry-run", prune.dry_run, "only report what would be removed");

  CLI::App* keys_cmd =
      with_client_options(app.add_subcommand("keys", "public token-verification keys"));
  keys_cmd->require_subcommand(0, 1);
  CLI::App* keys_rotate_cmd =
      with_client_options(keys_cmd->add_subcommand("rotate", "start signing with a new key"));
  CLI::App* health_cmd =
      with_client_options(app.add_subcommand("health", "ask whether the server is healthy"));
  CLI::App* metrics_cmd =
      with_client_options(app.add_subcommand("metrics", "the server's Prometheus metrics"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (eval_cmd->parsed()) return xrole::cli::RunEval(eval);
  if (serve_cmd->parsed()) return xrole::cli::RunServe(serve);
  if (lint_cmd->parsed()) return xrole::cli::RunLint(lint_files, lint_format, lint_kind);
  if (export_aws_cmd->parsed()) return xrole::cli::RunExportAws(export_aws);
  if (apply_cmd->parsed()) return cli::RunApply(client, apply);
  if (roles_cmd->parsed()) return cli::RunRoles(client, name);
  if (drift_cmd->parsed()) return cli::RunDrift(client, name);
  if (offboard_cmd->parsed()) return cli::RunOffboard(client, offboard);
  if (review_cmd->parsed()) return cli::RunReview(client, stale_days);
  if (agent_credentials->parsed()) return cli::RunIssueCredentials(client, "agent", name, false);
  if (agent_rotate->parsed()) return cli::RunIssueCredentials(client, "agent", name, true);
  if (human_credentials->parsed()) return cli::RunIssueCredentials(client, "human", name, false);
  if (human_rotate->parsed()) return cli::RunIssueCredentials(client, "human", name, true);
  if (run_start_cmd->parsed()) return cli::RunRunStart(client, run_start);
  if (run_end_cmd->parsed()) return cli::RunRunEnd(client, name);
  if (run_show_cmd->parsed()) return cli::RunRunShow(client, name);
  if (session_show_cmd->parsed()) return cli::RunSessionShow(client, name);
  if (assume_cmd->parsed()) return cli::RunAssume(client, assume);
  if (credential_process_cmd->parsed()) {
    return cli::RunCredentialProcess(client, credential_process);
  }
  if (authorize_cmd->parsed()) return cli::RunAuthorize(client, authorize);
  if (revoke_cmd->parsed()) return cli::RunRevoke(client, revoke);
  if (approvals_cmd->parsed()) return cli::RunApprovals(client, all_approvals);
  if (approve_cmd->parsed()) return cli::RunDecideApproval(client, name, true, reason);
  if (deny_cmd->parsed()) return cli::RunDecideApproval(client, name, false, reason);
  if (tail_cmd->parsed()) return cli::RunAuditTail(client, tail);
  if (verify_cmd->parsed()) return cli::RunAuditVerify(client, offline);
  if (export_cmd->parsed()) return cli::RunAuditExport(client, export_file, export_after);
  if (prune_cmd->parsed()) return cli::RunAuditPrune(client, prune);
  if (keys_cmd->parsed()) return cli::RunKeys(client, keys_rotate_cmd->parsed());
  if (health_cmd->parsed()) return cli::RunHealth(client);
  if (metrics_cmd->parsed()) return cli::RunMetrics(client);
  return 2;
}
