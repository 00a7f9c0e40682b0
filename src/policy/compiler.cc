#include "policy/compiler.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace xrole::policy {
namespace {

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// iam-semantics 2.2: "*", or service:name with the prefix compared literally and the name
// globbed, both case-insensitively. A pattern without ':' or with an empty or whitespace-
// containing name matches nothing.
CompiledAction CompileAction(std::string_view pattern) {
  CompiledAction action;
  if (pattern == "*") {
    action.kind = CompiledAction::Kind::kAll;
    return action;
  }
  const std::size_t colon = pattern.find(':');
  if (colon == std::string_view::npos) return action;
  const std::string_view name = pattern.substr(colon + 1);
  if (name.empty() || std::any_of(name.begin(), name.end(), IsSpace)) return action;
  action.kind = CompiledAction::Kind::kPattern;
  action.service = AsciiLower(pattern.substr(0, colon));
  action.name_text = AsciiLower(name);
  action.name = Glob::FromPattern(action.name_text);
  return action;
}

// INVARIANT (arn.h, ResourcePattern::Match): a pattern field without wildcards matches exactly
// one ARN field, fields 0-4 ASCII-case-insensitively and field 5 exactly, and only a '*' lets a
// field cover more. So (1) the pattern's text up to its first '*' or '?' is a prefix of every
// ARN it matches (case-insensitively up to the fifth ':'), and (2) the resource field, which is
// matched against the ARN's text from some ':' to the end, starts with its own literal text, so
// ':' + that text occurs in every ARN the pattern matches.
ResourcePrefilter MakeResourcePrefilter(const ResourcePattern& pattern, std::string_view text,
                                        bool variables_enabled) {
  ResourcePrefilter filter;
  if (pattern.is_match_all()) return filter;
  if (variables_enabled && text.find("${") != std::string_view::npos) return filter;
  int colons = 0;
  for (const char c : text) {
    if (c == '*' || c == '?') break;
    filter.prefix.push_back(c);
    if (colons < 5) ++filter.folded;
    if (c == ':') ++colons;
  }
  const ArnFields fields = SplitArn(text);
  if (fields.count == 6) {
    const std::string_view resource = fields.field[5];
    const std::size_t literal = resource.find_first_of("*?");
    const std::string_view start = resource.substr(0, literal);
    if (!start.empty()) filter.resource_start = ":" + std::string(start);
  }
  return filter;
}

void PushUnique(std::vector<std::uint32_t>* list, std::uint32_t id) {
  if (list->empty() || list->back() != id) list->push_back(id);
}

}  // namespace

bool ResourcePrefilter::Admits(std::string_view resource) const {
  if (resource.size() < prefix.size()) return false;
  // The case-sensitive tail discriminates most; the folded head is usually equal byte for byte.
  if (resource.compare(folded, prefix.size() - folded, prefix, folded, std::string::npos) != 0) {
    return false;
  }
  if (resource.compare(0, folded, prefix, 0, folded) != 0) {
    for (std::size_t i = 0; i < folded; ++i) {
      char a = resource[i];
      char b = prefix[i];
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
      if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
      if (a != b) return false;
    }
  }
  return resource_start.empty() || resource.find(resource_start) != std::string_view::npos;
}

bool CompiledAction::Matches(std::string_view service_lower, std::string_view name_lower) const {
  switch (kind) {
    case Kind::kAll:
      return true;
    case Kind::kNever:
      return false;
    case Kind::kPattern:
      return service == service_lower && name.Matches(name_lower);
  }
  return false;
}

PolicySetCompiler::PolicySetCompiler(const PolicySet& set, const Semantics& semantics)
    : set_(set), out_(std::make_shared<CompiledPolicySet>()) {
  out_->semantics_ = semantics;
}

Result<std::shared_ptr<const CompiledPolicySet>> PolicySetCompiler::Run() {
  XROLE_RETURN_IF_ERROR(CollectStatements());
  CompilePatterns();
  CompileConditionOperands();
  IndexActions();
  return std::shared_ptr<const CompiledPolicySet>(std::move(out_));
}

void PolicySetCompiler::AddPolicy(const Policy& policy, Layer layer, std::uint32_t group,
                                  std::string label) {
  CompiledPolicySet& out = *out_;
  const PolicyDocument& document = policy.document();
  out.documents_.push_back(policy.shared_document());
  const bool variables =
      document.version == PolicyVersion::k2012 || out.semantics_.variables_in_2008_documents;
  const bool principal_layer = layer == Layer::kResource || layer == Layer::kRcp;
  for (std::size_t i = 0; i < document.statements.size(); ++i) {
    const Statement& statement = document.statements[i];
    CompiledStatement compiled;
    compiled.group = group;
    compiled.layer = layer;
    compiled.effect = statement.effect;
    compiled.source = &statement;
    if (principal_layer) {
      if (!statement.principal.has_value()) {
        compiled.principal_test = CompiledStatement::PrincipalTest::kNever;
      } else {
        compiled.principal_test = statement.not_principal
                                      ? CompiledStatement::PrincipalTest::kNotPrincipal
                                      : CompiledStatement::PrincipalTest::kPrincipal;
        compiled.principal = &*statement.principal;
      }
    }
    compiled.reason.layer = layer;
    compiled.reason.policy = label;
    compiled.reason.name = policy.name();
    compiled.reason.statement = statement.index;
    compiled.reason.sid = statement.sid.value_or("");
    compiled.reason.effect = statement.effect;
    out.statements_.push_back(std::move(compiled));
    variables_enabled_.push_back(variables);
  }
}

Status PolicySetCompiler::CollectStatements() {
  CompiledPolicySet& out = *out_;
  auto check = [](const Policy& policy, const std::string& label) -> Status {
    if (policy.shared_document() == nullptr) {
      return Error(ErrorCode::kInvalidArgument, "policy `" + label + "` has no document");
    }
    return OkStatus();
  };
  auto add_levels = [&](const std::vector<std::vector<Policy>>& levels, Layer layer,
                        std::string_view prefix) -> Status {
    for (std::size_t level = 0; level < levels.size(); ++level) {
      const auto group = static_cast<std::uint32_t>(out.groups_.size());
      out.groups_.push_back({layer, static_cast<int>(level)});
      for (std::size_t i = 0; i < levels[level].size(); ++i) {
        std::string label =
            std::string(prefix) + "[" + std::to_string(level) + "][" + std::to_string(i) + "]";
        XROLE_RETURN_IF_ERROR(check(levels[level][i], label));
        AddPolicy(levels[level][i], layer, group, std::move(label));
      }
    }
    return OkStatus();
  };
  auto add_layer = [&](const std::vector<Policy>& policies, Layer layer,
                       std::string_view prefix) -> Result<std::uint32_t> {
    const auto group = static_cast<std::uint32_t>(out.groups_.size());
    out.groups_.push_back({layer, -1});
    for (std::size_t i = 0; i < policies.size(); ++i) {
      std::string label = std::string(prefix) + "[" + std::to_string(i) + "]";
      XROLE_RETURN_IF_ERROR(check(policies[i], label));
      AddPolicy(policies[i], layer, group, std::move(label));
    }
    return group;
  };

  // Reason order: rcp, scp, resource, identity, boundary, session.
  out.has_rcps_ = set_.rcps.has_value();
  out.rcp_group_begin_ = static_cast<std::uint32_t>(out.groups_.size());
  if (set_.rcps.has_value()) {
    out.rcp_levels_ = static_cast<std::uint32_t>(set_.rcps->size());
    XROLE_RETURN_IF_ERROR(add_levels(*set_.rcps, Layer::kRcp, "rcp"));
  }
  out.has_scps_ = set_.scps.has_value();
  out.scp_group_begin_ = static_cast<std::uint32_t>(out.groups_.size());
  if (set_.scps.has_value()) {
    out.scp_levels_ = static_cast<std::uint32_t>(set_.scps->size());
    XROLE_RETURN_IF_ERROR(add_levels(*set_.scps, Layer::kScp, "scp"));
  }
  out.has_resource_policy_ = set_.resource.has_value();
  out.resource_group_ = static_cast<std::uint32_t>(out.groups_.size());
  out.groups_.push_back({Layer::kResource, -1});
  if (set_.resource.has_value()) {
    XROLE_RETURN_IF_ERROR(check(*set_.resource, "resource"));
    AddPolicy(*set_.resource, Layer::kResource, out.resource_group_, "resource");
  }
  XROLE_ASSIGN_OR_RETURN(out.identity_group_,
                         add_layer(set_.identity, Layer::kIdentity, "identity"));
  XROLE_ASSIGN_OR_RETURN(out.boundary_group_,
                         add_layer(set_.boundaries, Layer::kBoundary, "boundary"));
  XROLE_ASSIGN_OR_RETURN(out.session_group_, add_layer(set_.session, Layer::kSession, "session"));
  out.has_boundaries_ = !set_.boundaries.empty();
  out.has_session_policies_ = !set_.session.empty();
  return OkStatus();
}

void PolicySetCompiler::CompilePatterns() {
  CompiledPolicySet& out = *out_;
  std::unordered_map<std::string, std::uint32_t> pattern_ids;
  for (std::size_t id = 0; id < out.statements_.size(); ++id) {
    CompiledStatement& compiled = out.statements_[id];
    const Statement& statement = *compiled.source;
    compiled.not_action = statement.not_action;
    compiled.actions.reserve(statement.actions.size());
    for (const std::string& pattern : statement.actions) {
      compiled.actions.push_back(CompileAction(pattern));
    }
    compiled.has_resources = statement.resources.has_value();
    compiled.not_resource = statement.not_resource;
    if (statement.resources.has_value()) {
      compiled.resources.reserve(statement.resources->size());
      for (const std::string& text : *statement.resources) {
        // INVARIANT: a ResourcePattern is a function of its text and the variable switch, so
        // equal keys may share one compiled pattern (and one per-request outcome).
        std::string key = (variables_enabled_[id] ? "1" : "0") + text;
        auto [it, inserted] = pattern_ids.try_emplace(
            std::move(key), static_cast<std::uint32_t>(out.resource_patterns_.size()));
        if (inserted) {
          out.resource_patterns_.push_back(ResourcePattern::Compile(text, variables_enabled_[id]));
          out.resource_prefilters_.push_back(
              MakeResourcePrefilter(out.resource_patterns_.back(), text, variables_enabled_[id]));
        }
        compiled.resources.push_back(it->second);
      }
    }
  }
}

void PolicySetCompiler::CompileConditionOperands() {
  CompiledPolicySet& out = *out_;
  for (std::size_t id = 0; id < out.statements_.size(); ++id) {
    CompiledStatement& compiled = out.statements_[id];
    compiled.conditions.reserve(compiled.source->conditions.size());
    for (const ConditionClause& clause : compiled.source->conditions) {
      compiled.conditions.push_back(
          CompiledCondition::Compile(clause, variables_enabled_[id], out.semantics_));
    }
  }
}

void PolicySetCompiler::IndexActions() {
  CompiledPolicySet& out = *out_;
  ActionIndex& index = out.index_;
  // (service, name pattern) -> position in that service's wildcard list.
  std::unordered_map<std::string, std::size_t> wildcard_slots;
  for (std::size_t i = 0; i < out.statements_.size(); ++i) {
    CompiledStatement& compiled = out.statements_[i];
    const auto id = static_cast<std::uint32_t>(i);
    const bool has_all =
        std::any_of(compiled.actions.begin(), compiled.actions.end(),
                    [](const CompiledAction& a) { return a.kind == CompiledAction::Kind::kAll; });
    // INVARIANT: a statement outside `always` can only apply to actions one of its entries
    // matches, so the index finds every statement that may apply.
    if (compiled.not_action || has_all) {
      compiled.action_indexed = false;
      PushUnique(&index.always, id);
      continue;
    }
    compiled.action_indexed = true;
    for (const CompiledAction& action : compiled.actions) {
      if (action.kind != CompiledAction::Kind::kPattern) continue;
      ActionIndex::Service& service = index.services[action.service];
      if (!action.name.has_wildcards()) {
        PushUnique(&service.exact[action.name_text], id);
      } else if (action.name.is_match_all()) {
        PushUnique(&service.any_name, id);
      } else {
        auto [slot, inserted] = wildcard_slots.try_emplace(action.service + ":" + action.name_text,
                                                           service.wildcards.size());
        if (inserted) service.wildcards.push_back({action.name, {}});
        PushUnique(&service.wildcards[slot->second].statements, id);
      }
    }
  }
}

Result<std::shared_ptr<const CompiledPolicySet>> Compile(const PolicySet& set,
                                                         const Semantics& semantics) {
  return PolicySetCompiler(set, semantics).Run();
}

}  // namespace xrole::policy
