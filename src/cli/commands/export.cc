// export.cc: `xrole export aws` (docs/aws-export.md). Reads roles-as-code files offline, builds
// one catalog from them and writes the AWS IAM artefacts of its execution roles
// (session/aws_export.h) under the output directory.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands/client.h"
#include "cli/commands/commands.h"
#include "policy/catalogue.h"
#include "session/aws_export.h"
#include "session/objects.h"

namespace xrole::cli {
namespace {

Result<std::shared_ptr<const session::Catalog>> LoadCatalog(const std::vector<std::string>& paths) {
  XROLE_ASSIGN_OR_RETURN(auto documents, ReadObjectDocuments(paths));
  return session::BuildCatalog(session::Catalog{}, documents);
}

int Fail(int status, const Error& error) {
  std::fprintf(stderr, "xrole export aws: %s\n", error.ToString().c_str());
  return status;
}

}  // namespace

int RunExportAws(const ExportAwsOptions& options) {
  if (options.paths.empty()) {
    std::fprintf(stderr, "xrole export aws: no roles-as-code files given (-f FILE_OR_DIR)\n");
    return 2;
  }
  const std::string& format = options.format;
  if (format != "all" && format != "json" && format != "cloudformation" && format != "terraform") {
    std::fprintf(stderr,
                 "xrole export aws: unknown format `%s`: expected `json`, `cloudformation`, "
                 "`terraform` or `all`\n",
                 format.c_str());
    return 2;
  }
  auto catalog = LoadCatalog(options.paths);
  if (!catalog.ok()) return Fail(2, catalog.error());

  std::optional<policy::ActionCatalogue> actions;
  if (std::optional<std::string> dir = policy::ActionCatalogue::FindDefaultDirectory()) {
    auto loaded = policy::ActionCatalogue::LoadFromDirectory(*dir);
    if (loaded.ok()) actions = std::move(loaded).value();
  }
  if (!actions.has_value()) {
    std::fprintf(stderr,
                 "xrole export aws: warning: no action catalogue found (set XROLE_IAM_DATA); "
                 "policies are linted without unknown-action checks\n");
  }

  session::AwsExportOptions export_options;
  export_options.roles = options.roles;
  export_options.json = format == "all" || format == "json";
  export_options.cloudformation = format == "all" || format == "cloudformation";
  export_options.terraform = format == "all" || format == "terraform";
  export_options.catalogue = actions.has_value() ? &*actions : nullptr;
  auto exported = session::ExportAws(**catalog, export_options);
  if (!exported.ok()) {
    return Fail(exported.error().code() == ErrorCode::kNotFound ? 2 : 1, exported.error());
  }
  Status written = session::WriteAwsExport(*exported, options.out_dir);
  if (!written.ok()) return Fail(2, written.error());

  for (const session::AwsRoleExport& role : exported->roles) {
    std::printf("%s/%s/\n", options.out_dir.c_str(), role.role.c_str());
  }
  std::printf("exported %zu role%s (%zu files) to %s; see %s/README.md\n", exported->roles.size(),
              exported->roles.size() == 1 ? "" : "s", exported->files.size(),
              options.out_dir.c_str(), options.out_dir.c_str());
  return 0;
}

}  // namespace xrole::cli
