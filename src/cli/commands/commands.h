// commands.h: the `xrole` subcommands. Each Run* function is one subcommand's whole behaviour;
// main.cc only parses flags and dispatches. Return values are process exit statuses.
#ifndef XROLE_CLI_COMMANDS_COMMANDS_H_
#define XROLE_CLI_COMMANDS_COMMANDS_H_

#include <string>
#include <vector>

namespace xrole::cli {

struct EvalOptions {
  std::string input = "-";               // a file, or "-" for standard input
  bool explain = false;                  // add the step-by-step reasoning to each result
  bool reference = false;                // use the reference evaluator instead of the compiled one
  bool no_index = false;                 // compiled evaluator without its action index
  std::string semantics = "documented";  // or "oracle" (iam-simulate compatible)
};

// `xrole eval`: JSON Lines of evaluation cases in, one JSON result line per case out.
// 0 when every line was answered (decisions and per-case errors alike), 2 for unusable input.
int RunEval(const EvalOptions& options);

// `xrole lint`: findings for policy documents; 1 when any error is found, 2 for unusable input.
int RunLint(const std::vector<std::string>& files, const std::string& format,
            const std::string& kind);

struct ServeOptions {
  std::string data_dir = "xrole-data";
  std::string listen = "127.0.0.1:8600";
  std::string store;              // "" = sqlite:<data_dir>/xrole.db
  std::vector<std::string> load;  // roles-as-code files applied at start
  int io_threads = 2;
  int workers = 16;
  long long min_session_seconds = 60;
  long long audit_commit_delay_us = 500;  // see audit::AuditLogOptions::commit_delay
};

// `xrole serve`: runs the broker and its HTTP API until SIGINT/SIGTERM.
int RunServe(const ServeOptions& options);

struct ExportAwsOptions {
  std::vector<std::string> paths;  // roles-as-code files or directories
  std::vector<std::string> roles;  // roles to export; empty: all
  std::string out_dir = "xrole-aws-export";
  std::string format = "all";  // json, cloudformation, terraform or all
};

// `xrole export aws`: AWS IAM artefacts of execution roles (docs/aws-export.md), offline.
// 0 on success, 1 when a role cannot be exported, 2 for unusable input or an unknown role.
int RunExportAws(const ExportAwsOptions& options);

}  // namespace xrole::cli

#endif  // XROLE_CLI_COMMANDS_COMMANDS_H_
