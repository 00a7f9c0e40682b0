// main.cc: the `xrole` command. Parses flags and dispatches to one Run* function per subcommand
// (src/cli/commands/); nothing else happens here.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (eval_cmd->parsed()) return xrole::cli::RunEval(eval);
  if (lint_cmd->parsed()) return xrole::cli::RunLint(lint_files, lint_format, lint_kind);
  return 2;
}
