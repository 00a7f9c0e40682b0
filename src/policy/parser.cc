#include "policy/parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/document.h"
#include "policy/operators.h"
#include "xrole/policy.h"

namespace xrole::policy {

namespace {

// Hard safety limits applied to every document, whatever its kind.
constexpr std::size_t kMaxCompactSize = 512u * 1024u;
constexpr std::size_t kMaxStatements = 1000;
constexpr std::size_t kMaxValuesPerElement = 10000;
// Organizations policies (SCP, RCP): all characters count.
constexpr std::size_t kOrganizationsPolicyMaxSize = 5120;

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && AsciiLower(a) == AsciiLower(b);
}

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

std::string KindArticle(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kIdentity:
      return "an identity policy";
    case PolicyKind::kResource:
      return "a resource policy";
    case PolicyKind::kTrust:
      return "a trust policy";
    case PolicyKind::kBoundary:
      return "a permissions boundary";
    case PolicyKind::kSession:
      return "a session policy";
    case PolicyKind::kScp:
      return "a service control policy";
    case PolicyKind::kRcp:
      return "a resource control policy";
  }
  return "a policy";
}

// Decodes one UTF-8 sequence at `s[*i]`; returns the code point (or 0xFFFD for invalid bytes)
// and advances `*i`.
std::uint32_t NextCodePoint(std::string_view s, std::size_t* i) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  int extra = 0;
  std::uint32_t cp = 0;
  if (b0 < 0x80) {
    ++*i;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    extra = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3;
    cp = b0 & 0x07;
  } else {
    ++*i;
    return 0xFFFD;
  }
  if (*i + static_cast<std::size_t>(extra) >= s.size()) {
    *i = s.size();
    return 0xFFFD;
  }
  for (int k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + static_cast<std::size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      *i += static_cast<std::size_t>(k);
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *i += static_cast<std::size_t>(extra) + 1;
  return cp;
}

std::size_t CountCodePoints(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// The first code point of `s` outside TAB, LF, CR and U+0020..U+00FF, if any.
std::optional<std::uint32_t> FirstDisallowedCharacter(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint32_t cp = NextCodePoint(s, &i);
    if (cp == 0x09 || cp == 0x0A || cp == 0x0D) continue;
    if (cp >= 0x20 && cp <= 0xFF) continue;
    return cp;
  }
  return std::nullopt;
}

std::string CodePointName(std::uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

class Parser {
 public:
  Parser(PolicyKind kind, std::string_view path_prefix, const ParseOptions& options,
         std::optional<std::size_t> raw_characters)
      : kind_(kind), prefix_(path_prefix), options_(options), raw_characters_(raw_characters) {}

  Result<std::shared_ptr<const PolicyDocument>> Run(const json::Value& root);

 private:
  Error Fail(std::string message, std::string_view path, SourceLocation location,
             ErrorCode code = ErrorCode::kMalformedPolicy) const {
    return Error(code, std::move(message), JoinPath(prefix_, path), location);
  }

  Status CheckCharacters(const json::Value& value, const std::string& path) const;
  Status ParseTop(const json::Value& root, PolicyDocument* doc) const;
  Status ParseStatement(const json::Value& value, int index, const std::string& path,
                        PolicyDocument* doc) const;
  Status ParseStringList(const json::Value& value, std::string_view element,
                         const std::string& path, std::vector<std::string>* out) const;
  Status ParsePrincipal(const json::Value& value, std::string_view element, const std::string& path,
                        PrincipalBlock* out) const;
  Status ParseCondition(const json::Value& value, const std::string& path,
                        Statement* statement) const;
  Status ParseOperator(std::string_view name, const std::string& path, SourceLocation location,
                       bool* known, ConditionClause* clause) const;
  Status CheckKindRules(const json::Value& value, const std::string& path,
                        const Statement& statement, const json::Value* principal_value) const;

  PolicyKind kind_;
  std::string prefix_;
  ParseOptions options_;
  std::optional<std::size_t> raw_characters_;
};

Status Parser::CheckCharacters(const json::Value& value, const std::string& path) const {
  if (value.is_string()) {
    if (auto cp = FirstDisallowedCharacter(value.text())) {
      return Fail("character " + CodePointName(*cp) +
                      " is not allowed in a policy (allowed: tab, line feed, carriage return "
                      "and U+0020 to U+00FF)",
                  path, value.location());
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.items().size(); ++i) {
      XROLE_RETURN_IF_ERROR(
          CheckCharacters(*value.items()[i], path + "[" + std::to_string(i) + "]"));
    }
  } else if (value.is_object()) {
    for (const json::Member& m : value.members()) {
      const std::string member_path = JoinPath(path, m.name);
      if (auto cp = FirstDisallowedCharacter(m.name)) {
        return Fail("character " + CodePointName(*cp) +
                        " is not allowed in a policy (allowed: tab, line feed, carriage return "
                        "and U+0020 to U+00FF)",
                    member_path, m.name_location);
      }
      XROLE_RETURN_IF_ERROR(CheckCharacters(*m.value, member_path));
    }
  }
  return OkStatus();
}

Result<std::shared_ptr<const PolicyDocument>> Parser::Run(const json::Value& root) {
  if (!root.is_object()) {
    return Fail("a policy must be a JSON object, found " + std::string(json::KindName(root.kind())),
                "", root.location());
  }
  const std::string compact = root.ToJson();
  const std::size_t compact_chars = CountCodePoints(compact);
  if (compact.size() > kMaxCompactSize) {
    return Fail("policy is " + std::to_string(compact.size()) +
                    " bytes without whitespace, over the hard limit of " +
                    std::to_string(kMaxCompactSize),
                "", root.location(), ErrorCode::kLimitExceeded);
  }
  XROLE_RETURN_IF_ERROR(CheckCharacters(root, ""));

  auto doc = std::make_shared<PolicyDocument>();
  doc->kind = kind_;
  doc->size_without_whitespace = compact_chars;
  XROLE_RETURN_IF_ERROR(ParseTop(root, doc.get()));

  if (options_.enforce_size_limits && (kind_ == PolicyKind::kScp || kind_ == PolicyKind::kRcp)) {
    // NOTE: Organizations counts every character, whitespace included. With only the tree, the
    // compact re-serialisation is the documented approximation.
    const std::size_t size = raw_characters_.value_or(compact_chars);
    if (size > kOrganizationsPolicyMaxSize) {
      return Fail(std::string(kind_ == PolicyKind::kScp ? "service" : "resource") +
                      " control policy is " + std::to_string(size) +
                      " characters, over the limit of " +
                      std::to_string(kOrganizationsPolicyMaxSize),
                  "", root.location());
    }
  }
  return std::shared_ptr<const PolicyDocument>(std::move(doc));
}

Status Parser::ParseTop(const json::Value& root, PolicyDocument* doc) const {
  const json::Value* statement_value = nullptr;
  for (const json::Member& m : root.members()) {
    const json::Value& v = *m.value;
    if (m.name == "Version") {
      if (!v.is_string()) {
        return Fail("`Version` must be a string, found " + std::string(json::KindName(v.kind())),
                    "Version", v.location());
      }
      if (v.text() == "2012-10-17") {
        doc->version = PolicyVersion::k2012;
      } else if (v.text() == "2008-10-17") {
        doc->version = PolicyVersion::k2008;
      } else {
        return Fail(
            "unsupported version " + Quote(v.text()) + ": expected `2012-10-17` or `2008-10-17`",
            "Version", v.location());
      }
      doc->version_present = true;
    } else if (m.name == "Id") {
      if (!v.is_string()) {
        return Fail("`Id` must be a string, found " + std::string(json::KindName(v.kind())), "Id",
                    v.location());
      }
      doc->id = v.text();
    } else if (m.name == "Statement") {
      statement_value = &v;
    } else {
      std::string message = "unknown policy element " + Quote(m.name);
      for (std::string_view known : {"Version", "Id", "Statement"}) {
        if (EqualsIgnoreCase(m.name, known)) {
          message += " (element names are case-sensitive: " + Quote(known) + ")";
        }
      }
      return Fail(std::move(message), m.name, m.name_location);
    }
  }
  if (kind_ == PolicyKind::kRcp && doc->version != PolicyVersion::k2012) {
    const json::Value* v = root.Find("Version");
    return Fail("a resource control policy must declare `Version` `2012-10-17`",
                v != nullptr ? "Version" : "", v != nullptr ? v->location() : root.location());
  }
  if (statement_value == nullptr) {
    return Fail("missing `Statement`", "", root.location());
  }
  if (statement_value->is_object()) {
    return ParseStatement(*statement_value, 0, "Statement", doc);
  }
  if (!statement_value->is_array()) {
    return Fail("`Statement` must be an object or an array of objects, found " +
                    std::string(json::KindName(statement_value->kind())),
                "Statement", statement_value->location());
  }
  const auto& items = statement_value->items();
  if (items.empty()) {
    return Fail("`Statement` must not be an empty array", "Statement", statement_value->location());
  }
  if (items.size() > kMaxStatements) {
    return Fail("policy has " + std::to_string(items.size()) +
                    " statements, over the hard limit of " + std::to_string(kMaxStatements),
                "Statement", statement_value->location(), ErrorCode::kLimitExceeded);
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    XROLE_RETURN_IF_ERROR(ParseStatement(*items[i], static_cast<int>(i),
                                         "Statement[" + std::to_string(i) + "]", doc));
  }
  return OkStatus();
}

Status Parser::ParseStringList(const json::Value& value, std::string_view element,
                               const std::string& path, std::vector<std::string>* out) const {
  out->clear();
  if (value.is_string()) {
    out->push_back(value.text());
    return OkStatus();
  }
  if (!value.is_array()) {
    return Fail(Quote(element) + " must be a string or an array of strings, found " +
                    std::string(json::KindName(value.kind())),
                path, value.location());
  }
  if (value.items().size() > kMaxValuesPerElement) {
    return Fail(Quote(element) + " has " + std::to_string(value.items().size()) +
                    " values, over the hard limit of " + std::to_string(kMaxValuesPerElement),
                path, value.location(), ErrorCode::kLimitExceeded);
  }
  for (std::size_t i = 0; i < value.items().size(); ++i) {
    const json::Value& item = *value.items()[i];
    // NOTE: IAM accepts (and ignores) null entries in these arrays; the linter reports them.
    if (item.is_null()) continue;
    if (!item.is_string()) {
      return Fail(Quote(element) + " must be a string or an array of strings, found " +
                      std::string(json::KindName(item.kind())) + " in the array",
                  path + "[" + std::to_string(i) + "]", item.location());
    }
    out->push_back(item.text());
  }
  return OkStatus();
}

Status Parser::ParsePrincipal(const json::Value& value, std::string_view element,
                              const std::string& path, PrincipalBlock* out) const {
  if (value.is_string()) {
    if (value.text() != "*") {
      return Fail(Quote(element) + " must be `*` or an object such as {\"AWS\": ...}, found " +
                      Quote(value.text()),
                  path, value.location());
    }
    out->wildcard = true;
    return OkStatus();
  }
  if (!value.is_object()) {
    return Fail(Quote(element) + " must be `*` or an object, found " +
                    std::string(json::KindName(value.kind())),
                path, value.location());
  }
  if (value.members().empty()) {
    return Fail(Quote(element) +
                    " must name at least one of `AWS`, `Service`, `Federated`, `CanonicalUser`",
                path, value.location());
  }
  for (const json::Member& m : value.members()) {
    std::vector<std::string>* list = nullptr;
    if (m.name == "AWS") {
      list = &out->aws;
    } else if (m.name == "Service") {
      list = &out->service;
    } else if (m.name == "Federated") {
      list = &out->federated;
    } else if (m.name == "CanonicalUser") {
      list = &out->canonical_user;
    } else {
      return Fail("unknown principal type " + Quote(m.name) +
                      ": expected `AWS`, `Service`, `Federated` or `CanonicalUser`",
                  JoinPath(path, m.name), m.name_location);
    }
    const std::string member_path = JoinPath(path, m.name);
    std::vector<std::string> values;
    XROLE_RETURN_IF_ERROR(
        ParseStringList(*m.value, std::string(element) + "." + m.name, member_path, &values));
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string& v = values[i];
      if (v != "*" && v.find('*') != std::string::npos) {
        // Locate the offending string in the JSON (a string, or an array entry).
        SourceLocation location = m.value->location();
        std::string value_path = member_path;
        if (m.value->is_array()) {
          for (std::size_t k = 0; k < m.value->items().size(); ++k) {
            if (m.value->items()[k]->is_string() && m.value->items()[k]->text() == v) {
              location = m.value->items()[k]->location();
              value_path = member_path + "[" + std::to_string(k) + "]";
              break;
            }
          }
        }
        return Fail(
            "wildcards are allowed in a principal only as the whole value `*`, found " + Quote(v),
            value_path, location);
      }
      if (v == "*" && list == &out->aws) {
        out->wildcard = true;
        continue;
      }
      list->push_back(v);
    }
  }
  return OkStatus();
}

Status Parser::ParseOperator(std::string_view name, const std::string& path,
                             SourceLocation location, bool* known, ConditionClause* clause) const {
  *known = false;
  std::optional<OperatorSpec> spec = SplitOperatorName(name);
  if (!spec) return OkStatus();  // unknown; the caller decides
  *known = true;
  std::string canonical;
  if (spec->set == SetQualifier::kForAllValues) canonical += "ForAllValues:";
  if (spec->set == SetQualifier::kForAnyValue) canonical += "ForAnyValue:";
  canonical += BaseOperatorName(spec->op);
  if (spec->if_exists) canonical += "IfExists";
  if (canonical != name) {
    return Fail("condition operator " + Quote(name) + " must be written " + Quote(canonical) +
                    " (operator names are case-sensitive)",
                path, location);
  }
  if (spec->if_exists && spec->op == BaseOperator::kNull) {
    return Fail("`IfExists` cannot be used with the `Null` condition operator", path, location);
  }
  clause->operator_name = std::string(name);
  clause->op = spec->op;
  clause->set = spec->set;
  clause->if_exists = spec->if_exists;
  return OkStatus();
}

Status Parser::ParseCondition(const json::Value& value, const std::string& path,
                              Statement* statement) const {
  if (!value.is_object()) {
    return Fail("`Condition` must be an object, found " + std::string(json::KindName(value.kind())),
                path, value.location());
  }
  for (const json::Member& op_member : value.members()) {
    const std::string op_path = JoinPath(path, op_member.name);
    ConditionClause proto;
    bool known = false;
    XROLE_RETURN_IF_ERROR(
        ParseOperator(op_member.name, op_path, op_member.name_location, &known, &proto));
    const json::Value& block = *op_member.value;
    if (!block.is_object()) {
      return Fail("condition operator " + Quote(op_member.name) +
                      " must map to an object of condition keys, found " +
                      std::string(json::KindName(block.kind())),
                  op_path, block.location());
    }
    if (!known) {
      // NOTE: IAM accepts an unknown operator whose block is empty (it can never be
      // evaluated); the linter reports it. With keys it is an error.
      if (block.members().empty()) continue;
      return Fail("unknown condition operator " + Quote(op_member.name), op_path,
                  op_member.name_location);
    }
    std::vector<std::pair<std::string, std::string>> seen_keys;  // lower -> as written
    for (const json::Member& key_member : block.members()) {
      const std::string key_path = JoinPath(op_path, key_member.name);
      ConditionClause clause = proto;
      clause.key = key_member.name;
      clause.key_lower = AsciiLower(key_member.name);
      clause.path = key_path;
      clause.location = key_member.name_location;
      for (const auto& [lower, written] : seen_keys) {
        if (lower == clause.key_lower) {
          return Fail("duplicate keys with different case: " + Quote(written) + " and " +
                          Quote(key_member.name) + " under " + Quote(op_member.name),
                      key_path, key_member.name_location);
        }
      }
      seen_keys.emplace_back(clause.key_lower, key_member.name);
      const json::Value& v = *key_member.value;
      auto scalar = [&](const json::Value& item, const std::string& item_path) -> Status {
        if (item.is_string() || item.is_number() || item.is_bool()) {
          clause.values.push_back(item.text());
          return OkStatus();
        }
        return Fail("condition values must be strings, numbers or booleans, found " +
                        std::string(json::KindName(item.kind())),
                    item_path, item.location());
      };
      if (v.is_array()) {
        if (v.items().size() > kMaxValuesPerElement) {
          return Fail("condition key " + Quote(key_member.name) + " has " +
                          std::to_string(v.items().size()) + " values, over the hard limit of " +
                          std::to_string(kMaxValuesPerElement),
                      key_path, v.location(), ErrorCode::kLimitExceeded);
        }
        for (std::size_t i = 0; i < v.items().size(); ++i) {
          XROLE_RETURN_IF_ERROR(scalar(*v.items()[i], key_path + "[" + std::to_string(i) + "]"));
        }
      } else {
        XROLE_RETURN_IF_ERROR(scalar(v, key_path));
      }
      if (clause.op == BaseOperator::kBool && clause.values.size() > 1) {
        return Fail("the `Bool` condition operator takes a single value, found " +
                        std::to_string(clause.values.size()) + " for " + Quote(key_member.name),
                    key_path, v.location());
      }
      statement->conditions.push_back(std::move(clause));
    }
  }
  return OkStatus();
}

Status Parser::CheckKindRules(const json::Value& value, const std::string& path,
                              const Statement& statement,
                              const json::Value* principal_value) const {
  const json::Value* p = value.Find("Principal");
  const json::Value* np = value.Find("NotPrincipal");
  const bool has_resource = statement.resources.has_value();
  auto forbid = [&](std::string_view name) -> Status {
    for (const json::Member& m : value.members()) {
      if (m.name == name) {
        return Fail(Quote(name) + " is not allowed in " + KindArticle(kind_), JoinPath(path, name),
                    m.name_location);
      }
    }
    return OkStatus();
  };
  auto require_resource = [&]() -> Status {
    if (!has_resource) {
      return Fail("missing `Resource` or `NotResource`: " + KindArticle(kind_) +
                      " statement must name its resources",
                  path, value.location());
    }
    return OkStatus();
  };
  switch (kind_) {
    case PolicyKind::kIdentity:
    case PolicyKind::kBoundary:
    case PolicyKind::kSession:
    case PolicyKind::kScp:
      XROLE_RETURN_IF_ERROR(forbid("Principal"));
      XROLE_RETURN_IF_ERROR(forbid("NotPrincipal"));
      XROLE_RETURN_IF_ERROR(require_resource());
      break;
    case PolicyKind::kResource:
      if (p == nullptr && np == nullptr) {
        return Fail(
            "missing `Principal` or `NotPrincipal`: a resource policy statement must "
            "name its principals",
            path, value.location());
      }
      if (np != nullptr && statement.effect != Effect::kDeny) {
        return Fail("`NotPrincipal` is allowed only in `Deny` statements",
                    JoinPath(path, "NotPrincipal"), np->location());
      }
      break;
    case PolicyKind::kTrust:
      XROLE_RETURN_IF_ERROR(forbid("NotPrincipal"));
      if (p == nullptr) {
        return Fail("missing `Principal`: a trust policy statement must name its principals", path,
                    value.location());
      }
      XROLE_RETURN_IF_ERROR(forbid("Resource"));
      XROLE_RETURN_IF_ERROR(forbid("NotResource"));
      break;
    case PolicyKind::kRcp:
      XROLE_RETURN_IF_ERROR(forbid("NotPrincipal"));
      XROLE_RETURN_IF_ERROR(forbid("NotAction"));
      if (p == nullptr) {
        return Fail(
            "missing `Principal`: a resource control policy statement must have "
            "`Principal` `*`",
            path, value.location());
      }
      if (!statement.principal.has_value() || !statement.principal->wildcard ||
          !statement.principal->aws.empty() || !statement.principal->service.empty() ||
          !statement.principal->federated.empty() || !statement.principal->canonical_user.empty()) {
        return Fail("`Principal` in a resource control policy must be `*`",
                    JoinPath(path, "Principal"),
                    principal_value != nullptr ? principal_value->location() : p->location());
      }
      XROLE_RETURN_IF_ERROR(require_resource());
      break;
  }
  return OkStatus();
}

Status Parser::ParseStatement(const json::Value& value, int index, const std::string& path,
                              PolicyDocument* doc) const {
  if (!value.is_object()) {
    return Fail("a statement must be an object, found " + std::string(json::KindName(value.kind())),
                path, value.location());
  }
  Statement st;
  st.index = index;
  st.path = path;
  st.location = value.location();
  bool has_effect = false;
  const json::Value* action = nullptr;
  const json::Value* principal = nullptr;
  const json::Value* resource = nullptr;
  const json::Value* condition = nullptr;
  const json::Member* action_member = nullptr;
  const json::Member* principal_member = nullptr;
  const json::Member* resource_member = nullptr;
  static constexpr std::array<std::string_view, 9> kElements = {
      "Sid",       "Effect",   "Principal",   "NotPrincipal", "Action",
      "NotAction", "Resource", "NotResource", "Condition"};
  auto exclusive = [&](const json::Member* first, const json::Member& second) -> Status {
    return Fail(Quote(first->name) + " and " + Quote(second.name) +
                    " are mutually exclusive in a statement",
                JoinPath(path, second.name), second.name_location);
  };
  for (const json::Member& m : value.members()) {
    const json::Value& v = *m.value;
    const std::string member_path = JoinPath(path, m.name);
    if (m.name == "Sid") {
      if (!v.is_string()) {
        return Fail("`Sid` must be a string, found " + std::string(json::KindName(v.kind())),
                    member_path, v.location());
      }
      st.sid = v.text();
    } else if (m.name == "Effect") {
      if (!v.is_string()) {
        return Fail("`Effect` must be a string, found " + std::string(json::KindName(v.kind())),
                    member_path, v.location());
      }
      if (v.text() == "Allow") {
        st.effect = Effect::kAllow;
      } else if (v.text() == "Deny") {
        st.effect = Effect::kDeny;
      } else {
        return Fail("unknown effect " + Quote(v.text()) + ": expected `Allow` or `Deny`",
                    member_path, v.location());
      }
      has_effect = true;
    } else if (m.name == "Action" || m.name == "NotAction") {
      if (action_member != nullptr) return exclusive(action_member, m);
      action_member = &m;
      action = &v;
      st.not_action = m.name == "NotAction";
    } else if (m.name == "Resource" || m.name == "NotResource") {
      if (resource_member != nullptr) return exclusive(resource_member, m);
      resource_member = &m;
      resource = &v;
      st.not_resource = m.name == "NotResource";
    } else if (m.name == "Principal" || m.name == "NotPrincipal") {
      if (principal_member != nullptr) return exclusive(principal_member, m);
      principal_member = &m;
      principal = &v;
      st.not_principal = m.name == "NotPrincipal";
    } else if (m.name == "Condition") {
      condition = &v;
    } else {
      std::string message = "unknown statement element " + Quote(m.name);
      for (std::string_view known : kElements) {
        if (EqualsIgnoreCase(m.name, known)) {
          message += " (element names are case-sensitive: " + Quote(known) + ")";
        }
      }
      return Fail(std::move(message), member_path, m.name_location);
    }
  }
  if (!has_effect) return Fail("missing `Effect`", path, value.location());
  if (action == nullptr) return Fail("missing `Action` or `NotAction`", path, value.location());
  XROLE_RETURN_IF_ERROR(ParseStringList(*action, action_member->name,
                                        JoinPath(path, action_member->name), &st.actions));
  if (resource != nullptr) {
    std::vector<std::string> resources;
    XROLE_RETURN_IF_ERROR(ParseStringList(*resource, resource_member->name,
                                          JoinPath(path, resource_member->name), &resources));
    st.resources = std::move(resources);
  }
  if (principal != nullptr) {
    PrincipalBlock block;
    XROLE_RETURN_IF_ERROR(ParsePrincipal(*principal, principal_member->name,
                                         JoinPath(path, principal_member->name), &block));
    st.principal = std::move(block);
  }
  if (condition != nullptr) {
    XROLE_RETURN_IF_ERROR(ParseCondition(*condition, JoinPath(path, "Condition"), &st));
  }
  XROLE_RETURN_IF_ERROR(CheckKindRules(value, path, st, principal));
  doc->statements.push_back(std::move(st));
  return OkStatus();
}

Result<std::shared_ptr<const PolicyDocument>> ParseDocumentWithRawSize(
    const json::Value& root, PolicyKind kind, std::string_view path_prefix,
    const ParseOptions& options, std::optional<std::size_t> raw_characters) {
  Parser parser(kind, path_prefix, options, raw_characters);
  return parser.Run(root);
}

}  // namespace

Result<std::shared_ptr<const PolicyDocument>> ParseDocument(const json::Value& root,
                                                            PolicyKind kind,
                                                            std::string_view path_prefix,
                                                            const ParseOptions& options) {
  return ParseDocumentWithRawSize(root, kind, path_prefix, options, std::nullopt);
}

Result<std::shared_ptr<const PolicyDocument>> ParseDocumentText(std::string_view text,
                                                                PolicyKind kind,
                                                                const ParseOptions& options) {
  auto root = json::Parse(text);
  if (!root.ok()) {
    const Error& e = root.error();
    if (e.code() == ErrorCode::kInvalidArgument) {
      return Error(ErrorCode::kMalformedPolicy, e.message(), e.path(), e.location());
    }
    return e;
  }
  return ParseDocumentWithRawSize(**root, kind, "", options, CountCodePoints(text));
}

Result<Policy> ParsePolicy(std::string_view json_text, PolicyKind kind, std::string name) {
  auto doc = ParseDocumentText(json_text, kind);
  if (!doc.ok()) return doc.error();
  return Policy(std::move(doc).value(), std::move(name));
}

}  // namespace xrole::policy
