#include "sts/protocol.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_set>

namespace xrole::sts {
namespace {

constexpr std::string_view kInvalidQueryParameter = "InvalidQueryParameter";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

StsResult<std::string> FormDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      const int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return StsError{std::string(kInvalidQueryParameter),
                        "The request has a malformed percent-encoding at '" +
                            std::string(text.substr(i, 3)) + "'",
                        ""};
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    }
  }
  return out;
}

// Decodes one UTF-8 code point at `text[*pos]`, advancing *pos; -1 for an invalid sequence
// (overlong forms, surrogates and values above U+10FFFF included).
std::int32_t NextCodePoint(std::string_view text, std::size_t* pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(*pos);
  int length = 0;
  std::int32_t cp = 0;
  if (lead < 0x80) {
    ++*pos;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    ++*pos;
    return -1;
  }
  if (*pos + static_cast<std::size_t>(length) > text.size()) {
    *pos = text.size();
    return -1;
  }
  for (int i = 1; i < length; ++i) {
    const unsigned char next = byte(*pos + static_cast<std::size_t>(i));
    if ((next & 0xC0) != 0x80) {
      *pos += static_cast<std::size_t>(i);
      return -1;
    }
    cp = (cp << 6) | (next & 0x3F);
  }
  *pos += static_cast<std::size_t>(length);
  static constexpr std::int32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  return cp;
}

// Code points of valid UTF-8 text, or nullopt.
std::optional<std::vector<std::int32_t>> CodePoints(std::string_view text) {
  std::vector<std::int32_t> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::int32_t cp = NextCodePoint(text, &pos);
    if (cp < 0) return std::nullopt;
    out.push_back(cp);
  }
  return out;
}

bool IsWordChar(std::int32_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// AWS's "[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]".
bool IsPolicyTextChar(std::int32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0D || (c >= 0x20 && c <= 0x7E) || c == 0x85 ||
         (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

// A constraint on one string member, as AWS's models state it.
struct StringConstraint {
  std::size_t min_length;
  std::size_t max_length;    // 0: none
  std::string_view pattern;  // the pattern text AWS reports
  bool (*allowed)(std::int32_t);
};

bool SessionNameChar(std::int32_t c) {
  return IsWordChar(c) || (c < 0x80 && std::string_view("+=,.@-").find(static_cast<char>(c)) !=
                                           std::string_view::npos);
}
bool ExternalIdChar(std::int32_t c) {
  return IsWordChar(c) || (c < 0x80 && std::string_view("+=,.@:/-").find(static_cast<char>(c)) !=
                                           std::string_view::npos);
}
bool SerialNumberChar(std::int32_t c) {
  return IsWordChar(c) || (c < 0x80 && std::string_view("+=/:,.@-").find(static_cast<char>(c)) !=
                                           std::string_view::npos);
}
bool DigitChar(std::int32_t c) { return c >= '0' && c <= '9'; }
// [\p{L}\p{Z}\p{N}_.:/=+\-@]: ASCII letters, digits and space exactly; every non-ASCII code
// point except C1 controls is accepted as a letter/number/separator (an approximation: xrole
// carries no Unicode category tables; the broker stores tags as opaque UTF-8).
bool TagChar(std::int32_t c) {
  if (c >= 0x80) return c >= 0xA0;
  return IsWordChar(c) || c == ' ' ||
         std::string_view(".:/=+-@").find(static_cast<char>(c)) != std::string_view::npos;
}

constexpr StringConstraint kRoleArn{20, 2048,
                                    "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-"
                                    "\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+",
                                    IsPolicyTextChar};
constexpr StringConstraint kPolicy{1, 0, kRoleArn.pattern, IsPolicyTextChar};
constexpr StringConstraint kSessionName{2, 64, "[\\w+=,.@-]*", SessionNameChar};
constexpr StringConstraint kExternalId{2, 1224, "[\\w+=,.@:\\/-]*", ExternalIdChar};
constexpr StringConstraint kSourceIdentity{2, 64, "[\\w+=,.@-]*", SessionNameChar};
constexpr StringConstraint kSerialNumber{9, 256, "[\\w+=/:,.@-]*", SerialNumberChar};
constexpr StringConstraint kTokenCode{6, 6, "[\\d]*", DigitChar};
constexpr StringConstraint kTagKey{1, 128, "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", TagChar};
constexpr StringConstraint kTagValue{0, 256, "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", TagChar};

class ValidationErrors {
 public:
  void Add(std::string_view value_repr, std::string_view field, std::string_view constraint) {
    messages_.push_back("Value " + std::string(value_repr) + " at '" + std::string(field) +
                        "' failed to satisfy constraint: " + std::string(constraint));
  }
  void AddRaw(std::string message) { messages_.push_back(std::move(message)); }

  // Length, then pattern (AWS reports both when both fail).
  void Check(std::string_view value, std::string_view field, const StringConstraint& c) {
    const std::string repr = Quote(value);
    const auto code_points = CodePoints(value);
    const std::size_t length = code_points ? code_points->size() : value.size();
    if (length < c.min_length) {
      Add(repr, field,
          "Member must have length greater than or equal to " + std::to_string(c.min_length));
    }
    if (c.max_length > 0 && length > c.max_length) {
      Add(repr, field,
          "Member must have length less than or equal to " + std::to_string(c.max_length));
    }
    if (!code_points || !std::all_of(code_points->begin(), code_points->end(), c.allowed)) {
      Add(repr, field, "Member must satisfy regular expression pattern: " + std::string(c.pattern));
    }
  }
  void Required(std::string_view field) { Add("null", field, "Member must not be null"); }

  static std::string Quote(std::string_view value) { return "'" + std::string(value) + "'"; }

  bool empty() const { return messages_.empty(); }

  StsError ToError() const {
    std::string text =
        std::to_string(messages_.size()) +
        (messages_.size() == 1 ? " validation error detected: " : " validation errors detected: ");
    for (std::size_t i = 0; i < messages_.size(); ++i) {
      if (i > 0) text += "; ";
      text += messages_[i];
    }
    return StsError{"ValidationError", std::move(text), ""};
  }

 private:
  std::vector<std::string> messages_;
};

// "member.N" or "member.N.<field>" after the list prefix; N positive without leading zeros.
struct MemberName {
  int index = 0;
  std::string_view field;  // "" when the member is a scalar
};

std::optional<MemberName> ParseMemberName(std::string_view rest) {
  constexpr std::string_view kMember = "member.";
  if (rest.substr(0, kMember.size()) != kMember) return std::nullopt;
  rest.remove_prefix(kMember.size());
  const std::size_t dot = rest.find('.');
  const std::string_view digits = rest.substr(0, dot);
  if (digits.empty() || digits.size() > 6 || digits[0] == '0' ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  MemberName name;
  std::from_chars(digits.data(), digits.data() + digits.size(), name.index);
  if (dot != std::string_view::npos) {
    name.field = rest.substr(dot + 1);
    if (name.field.empty()) return std::nullopt;
  }
  return name;
}

std::string ListRepr(const std::vector<std::string>& items) {
  std::string text = "'[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ", ";
    text += items[i];
  }
  return text + "]'";
}

void AppendElement(std::string* xml, std::string_view indent, std::string_view name,
                   std::string_view value) {
  *xml += indent;
  *xml += '<';
  *xml += name;
  *xml += '>';
  *xml += XmlEscape(value);
  *xml += "</";
  *xml += name;
  *xml += ">\n";
}

}  // namespace

const std::string* FormParams::Find(std::string_view name) const {
  for (const auto& field : fields) {
    if (field.first == name) return &field.second;
  }
  return nullptr;
}

StsResult<FormParams> ParseForm(std::string_view text) {
  FormParams params;
  std::unordered_set<std::string> seen;
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view piece = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (piece.empty()) continue;
    const std::size_t eq = piece.find('=');
    XROLE_ASSIGN_OR_RETURN(std::string name, FormDecode(piece.substr(0, eq)));
    XROLE_ASSIGN_OR_RETURN(
        std::string value,
        FormDecode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1)));
    if (name.empty()) {
      return StsError{std::string(kInvalidQueryParameter),
                      "The request has a parameter without a name", ""};
    }
    if (!seen.insert(name).second) {
      return StsError{std::string(kInvalidQueryParameter),
                      "The parameter '" + name + "' appears more than once", ""};
    }
    params.fields.emplace_back(std::move(name), std::move(value));
  }
  return params;
}

std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

StsResult<QueryRequest> ParseQueryRequest(std::string_view form_text) {
  XROLE_ASSIGN_OR_RETURN(FormParams params, ParseForm(form_text));
  const std::string* action = params.Find("Action");
  if (action == nullptr || action->empty()) {
    return StsError{"MissingAction", "Request is missing Action", ""};
  }
  const std::string* version = params.Find("Version");
  if (version == nullptr || *version != kStsApiVersion) {
    return StsError{"InvalidAction",
                    "Could not find operation " + *action + " for version " +
                        (version == nullptr ? std::string("NO_VERSION_SPECIFIED") : *version),
                    ""};
  }
  QueryRequest request;
  request.action = *action;
  request.params = std::move(params);
  return request;
}

StsResult<AssumeRoleRequest> ParseAssumeRole(const FormParams& params) {
  AssumeRoleRequest request;
  ValidationErrors errors;
  std::map<int, std::string> policy_arns;
  std::map<int, std::pair<std::optional<std::string>, std::optional<std::string>>> tags;
  std::map<int, std::string> transitive_keys;
  bool saw_role_arn = false, saw_session_name = false;

  for (const auto& field : params.fields) {
    const std::string& name = field.first;
    const std::string& value = field.second;
    const auto list_member = [&](std::string_view prefix) -> std::optional<MemberName> {
      return ParseMemberName(std::string_view(name).substr(prefix.size()));
    };
    if (name == "RoleArn") {
      saw_role_arn = true;
      request.role_arn = value;
    } else if (name == "RoleSessionName") {
      saw_session_name = true;
      request.role_session_name = value;
    } else if (name == "DurationSeconds") {
      std::int64_t seconds = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        errors.Add(ValidationErrors::Quote(value), "durationSeconds", "Member must be an integer");
      } else {
        request.duration_seconds = seconds;
      }
    } else if (name == "Policy") {
      request.policy = value;
    } else if (name == "ExternalId") {
      request.external_id = value;
    } else if (name == "SourceIdentity") {
      request.source_identity = value;
    } else if (name == "SerialNumber") {
      request.serial_number = value;
    } else if (name == "TokenCode") {
      request.token_code = value;
    } else if (name == "PolicyArns" || name == "Tags" || name == "TransitiveTagKeys") {
      // botocore serializes an empty list as "Name=".
      if (!value.empty()) {
        errors.AddRaw("Parameter '" + name + "' must be a list of members such as '" + name +
                      ".member.1'");
      }
    } else if (name.starts_with("PolicyArns.")) {
      const auto member = list_member("PolicyArns.");
      if (!member || member->field != "arn") {
        errors.AddRaw("Parameter '" + name +
                      "' is not a valid member of 'PolicyArns' (expected PolicyArns.member.N.arn)");
      } else {
        policy_arns[member->index] = value;
      }
    } else if (name.starts_with("Tags.")) {
      const auto member = list_member("Tags.");
      if (!member || (member->field != "Key" && member->field != "Value")) {
        errors.AddRaw("Parameter '" + name +
                      "' is not a valid member of 'Tags' (expected Tags.member.N.Key or "
                      "Tags.member.N.Value)");
      } else if (member->field == "Key") {
        tags[member->index].first = value;
      } else {
        tags[member->index].second = value;
      }
    } else if (name.starts_with("TransitiveTagKeys.")) {
      const auto member = list_member("TransitiveTagKeys.");
      if (!member || !member->field.empty()) {
        errors.AddRaw("Parameter '" + name +
                      "' is not a valid member of 'TransitiveTagKeys' (expected "
                      "TransitiveTagKeys.member.N)");
      } else {
        transitive_keys[member->index] = value;
      }
    }
    // Every other parameter (Action, Version, ProvidedContexts, ...) is ignored, as AWS does.
  }

  if (!saw_role_arn) {
    errors.Required("roleArn");
  } else {
    errors.Check(request.role_arn, "roleArn", kRoleArn);
  }
  if (!saw_session_name) {
    errors.Required("roleSessionName");
  } else {
    errors.Check(request.role_session_name, "roleSessionName", kSessionName);
  }
  if (request.duration_seconds) {
    const std::string repr = ValidationErrors::Quote(std::to_string(*request.duration_seconds));
    if (*request.duration_seconds < 900) {
      errors.Add(repr, "durationSeconds", "Member must have value greater than or equal to 900");
    } else if (*request.duration_seconds > 43200) {
      errors.Add(repr, "durationSeconds", "Member must have value less than or equal to 43200");
    }
  }
  if (request.policy) errors.Check(*request.policy, "policy", kPolicy);

  std::vector<std::string> arn_list;
  for (const auto& entry : policy_arns) {
    arn_list.push_back(entry.second);
    errors.Check(entry.second, "policyArns." + std::to_string(entry.first) + ".member.arn",
                 kRoleArn);
  }
  if (arn_list.size() > 10) {
    errors.Add(ListRepr(arn_list), "policyArns",
               "Member must have length less than or equal to 10");
  }
  request.policy_arns = arn_list;

  std::vector<std::string> tag_repr;
  for (const auto& entry : tags) {
    const std::string base = "tags." + std::to_string(entry.first) + ".member.";
    const auto& [key, value] = entry.second;
    if (!key) {
      errors.Required(base + "key");
    } else {
      errors.Check(*key, base + "key", kTagKey);
    }
    if (!value) {
      errors.Required(base + "value");
    } else {
      errors.Check(*value, base + "value", kTagValue);
    }
    request.tags.push_back(StsTag{key.value_or(""), value.value_or("")});
    tag_repr.push_back("Tag(key=" + key.value_or("null") + ", value=" + value.value_or("null") +
                       ")");
  }
  if (request.tags.size() > 50) {
    errors.Add(ListRepr(tag_repr), "tags", "Member must have length less than or equal to 50");
  }

  for (const auto& entry : transitive_keys) {
    request.transitive_tag_keys.push_back(entry.second);
    errors.Check(entry.second, "transitiveTagKeys." + std::to_string(entry.first) + ".member",
                 kTagKey);
  }
  if (request.transitive_tag_keys.size() > 50) {
    errors.Add(ListRepr(request.transitive_tag_keys), "transitiveTagKeys",
               "Member must have length less than or equal to 50");
  }

  if (request.external_id) errors.Check(*request.external_id, "externalId", kExternalId);
  if (request.source_identity) {
    errors.Check(*request.source_identity, "sourceIdentity", kSourceIdentity);
  }
  if (request.serial_number) errors.Check(*request.serial_number, "serialNumber", kSerialNumber);
  if (request.token_code) errors.Check(*request.token_code, "tokenCode", kTokenCode);

  if (!errors.empty()) return errors.ToError();
  return request;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    const std::int32_t cp = NextCodePoint(text, &pos);
    const bool xml_char = cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0xD7FF) ||
                          (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
    if (!xml_char) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      continue;
    }
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";  // a raw CR would be normalized away by the parser
        break;
      default:
        out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

std::string WriteAssumeRoleResponse(const AssumeRoleResult& result, std::string_view request_id) {
  std::string xml = "<AssumeRoleResponse xmlns=\"" + std::string(kStsXmlNamespace) + "\">\n";
  xml += "  <AssumeRoleResult>\n";
  if (result.source_identity) {
    AppendElement(&xml, "    ", "SourceIdentity", *result.source_identity);
  }
  xml += "    <AssumedRoleUser>\n";
  AppendElement(&xml, "      ", "AssumedRoleId", result.assumed_role_id);
  AppendElement(&xml, "      ", "Arn", result.assumed_role_arn);
  xml += "    </AssumedRoleUser>\n";
  xml += "    <Credentials>\n";
  AppendElement(&xml, "      ", "AccessKeyId", result.access_key_id);
  AppendElement(&xml, "      ", "SecretAccessKey", result.secret_access_key);
  AppendElement(&xml, "      ", "SessionToken", result.session_token);
  AppendElement(&xml, "      ", "Expiration", result.expiration);
  xml += "    </Credentials>\n";
  if (result.packed_policy_size) {
    AppendElement(&xml, "    ", "PackedPolicySize", std::to_string(*result.packed_policy_size));
  }
  xml += "  </AssumeRoleResult>\n";
  xml += "  <ResponseMetadata>\n";
  AppendElement(&xml, "    ", "RequestId", request_id);
  xml += "  </ResponseMetadata>\n";
  xml += "</AssumeRoleResponse>\n";
  return xml;
}

std::string WriteGetCallerIdentityResponse(const CallerIdentity& identity,
                                           std::string_view request_id) {
  std::string xml = "<GetCallerIdentityResponse xmlns=\"" + std::string(kStsXmlNamespace) + "\">\n";
  xml += "  <GetCallerIdentityResult>\n";
  AppendElement(&xml, "    ", "Arn", identity.arn);
  AppendElement(&xml, "    ", "UserId", identity.user_id);
  AppendElement(&xml, "    ", "Account", identity.account);
  xml += "  </GetCallerIdentityResult>\n";
  xml += "  <ResponseMetadata>\n";
  AppendElement(&xml, "    ", "RequestId", request_id);
  xml += "  </ResponseMetadata>\n";
  xml += "</GetCallerIdentityResponse>\n";
  return xml;
}

std::string WriteErrorResponse(const StsError& error, std::string_view request_id) {
  std::string xml = "<ErrorResponse xmlns=\"" + std::string(kStsXmlNamespace) + "\">\n";
  xml += "  <Error>\n";
  AppendElement(&xml, "    ", "Type",
                HttpStatusForStsError(error.code) >= 500 ? "Receiver" : "Sender");
  AppendElement(&xml, "    ", "Code", error.code);
  AppendElement(&xml, "    ", "Message", error.message);
  xml += "  </Error>\n";
  AppendElement(&xml, "  ", "RequestId", request_id);
  xml += "</ErrorResponse>\n";
  return xml;
}

int HttpStatusForStsError(std::string_view code) {
  static const std::map<std::string_view, int, std::less<>> kStatus = {
      {"AccessDenied", 403},
      {"ExpiredToken", 400},
      {"InvalidClientTokenId", 403},
      {"SignatureDoesNotMatch", 403},
      {"RequestExpired", 400},
      {"IncompleteSignature", 400},
      {"MissingAuthenticationToken", 403},
      {"MalformedPolicyDocument", 400},
      {"PackedPolicyTooLarge", 400},
      {"RegionDisabled", 403},
      {"ValidationError", 400},
      {"InvalidAction", 400},
      {"MissingAction", 400},
      {"MissingParameter", 400},
      {"InvalidParameterValue", 400},
      {"InvalidQueryParameter", 400},
      {"MalformedQueryString", 404},
      {"XAmzContentSHA256Mismatch", 400},
      {"InternalFailure", 500},
      {"ServiceUnavailable", 503},
      {"Throttling", 400},
  };
  const auto it = kStatus.find(code);
  return it == kStatus.end() ? 400 : it->second;
}

}  // namespace xrole::sts
