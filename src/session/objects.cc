#include "session/objects.h"

#include <yaml.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <variant>

#include "common/crypto.h"
#include "common/json.h"
#include "common/strings.h"

namespace xrole::session {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kApiVersion = "xrole/v1";
constexpr std::string_view kDefaultAccount = "111122223333";
constexpr std::size_t kMaxInputBytes = 16u << 20;
// YAML aliases can expand a small text into a huge tree; these limits bound the expansion.
constexpr std::size_t kMaxNodes = 100000;  // beyond one per input byte
constexpr int kMaxDepth = 64;

constexpr std::int64_t kMinSessionSeconds = 900;
constexpr std::int64_t kMaxSessionSeconds = 43200;
constexpr std::int64_t kMinRunSeconds = 60;
constexpr std::int64_t kMaxRunSeconds = 43200;
constexpr std::int64_t kMinApprovalTtlSeconds = 60;
constexpr std::int64_t kMaxApprovalTtlSeconds = 7 * 24 * 3600;

constexpr std::array<ObjectKind, 6> kAllKinds = {
    ObjectKind::kExecutionRole, ObjectKind::kAgent,     ObjectKind::kHuman,
    ObjectKind::kWorkflow,      ObjectKind::kGuardrail, ObjectKind::kManagedPolicy};

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

std::string Index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------
// A located tree: the common form of YAML and JSON input, so one schema reader serves both.

struct Node {
  // kPlain is an unquoted YAML scalar, whose type depends on where it is used (`900`, `true`,
  // `2027-03-01` are all plain text until a field says what it expects).
  enum class Type { kNull, kBool, kNumber, kString, kPlain, kSequence, kMapping };

  Type type = Type::kNull;
  std::string text;  // scalars: the text as written; booleans: "true" / "false"
  SourceLocation location;
  std::vector<Node> items;  // sequence items, or mapping values (parallel to `keys`)
  std::vector<std::string> keys;
  std::vector<SourceLocation> key_locations;

  bool is_scalar() const {
    return type != Type::kNull && type != Type::kSequence && type != Type::kMapping;
  }
  bool is_mapping() const { return type == Type::kMapping; }
  bool is_sequence() const { return type == Type::kSequence; }
  bool is_null() const { return type == Type::kNull; }

  const Node* Find(std::string_view key) const {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return &items[i];
    }
    return nullptr;
  }
};

std::string_view TypeName(const Node& node) {
  switch (node.type) {
    case Node::Type::kNull:
      return "null";
    case Node::Type::kBool:
      return "a boolean";
    case Node::Type::kNumber:
      return "a number";
    case Node::Type::kString:
    case Node::Type::kPlain:
      return "a string";
    case Node::Type::kSequence:
      return "a list";
    case Node::Type::kMapping:
      return "a mapping";
  }
  return "a value";
}

Error Invalid(const Node& at, std::string path, std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message), std::move(path), at.location);
}

Error WrongType(const Node& at, std::string path, std::string_view expected) {
  return Invalid(at, std::move(path),
                 "expected " + std::string(expected) + ", found " + std::string(TypeName(at)));
}

// Reads YAML text into located trees with libyaml's event parser, which is linear in the input.
// The nesting depth is checked as each collection opens, so no deeper input is read, and
// aliases are expanded as copies within a budget of nodes over all documents. Scalars are kept
// as written: a plain scalar is typed by the field that reads it (core-schema nulls aside).
class YamlReader {
 public:
  YamlReader(std::string_view source, std::size_t max_nodes) : max_nodes_(max_nodes) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(source.data()),
                                 source.size());
  }
  ~YamlReader() { yaml_parser_delete(&parser_); }
  YamlReader(const YamlReader&) = delete;
  YamlReader& operator=(const YamlReader&) = delete;

  // The root of every document, in order (an empty document is a null node). Errors carry the
  // location of the offending event and the path to it; a syntax error's message says which
  // construct it interrupted.
  Result<std::vector<Node>> ReadAll() {
    std::vector<Node> documents;
    while (true) {
      yaml_event_t event;
      if (yaml_parser_parse(&parser_, &event) == 0) return SyntaxError();
      std::unique_ptr<yaml_event_t, void (*)(yaml_event_t*)> owned(&event, yaml_event_delete);
      const SourceLocation at = LocationOf(event.start_mark);
      switch (event.type) {
        case YAML_STREAM_END_EVENT:
          return documents;
        case YAML_DOCUMENT_START_EVENT:
          anchors_.clear();  // anchors do not cross documents
          break;
        case YAML_DOCUMENT_END_EVENT:
          documents.push_back(std::move(document_));
          document_ = Node();
          break;
        case YAML_SCALAR_EVENT: {
          XROLE_RETURN_IF_ERROR(Count(1, at));
          XROLE_RETURN_IF_ERROR(Place(Scalar(event, at), Anchor(event.data.scalar.anchor)));
          break;
        }
        case YAML_ALIAS_EVENT: {
          const std::string name = Anchor(event.data.alias.anchor);
          auto anchored = anchors_.find(name);
          if (anchored == anchors_.end()) {
            return Fail(ErrorCode::kInvalidArgument,
                        "alias " + Quote("*" + name) + " names no anchor before it", at);
          }
          XROLE_RETURN_IF_ERROR(Count(anchored->second.nodes, at));
          XROLE_RETURN_IF_ERROR(Place(anchored->second.node, ""));
          break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
          const std::size_t count_before = count_;  // the collection's nodes include itself
          XROLE_RETURN_IF_ERROR(Count(1, at));
          if (open_.size() >= static_cast<std::size_t>(kMaxDepth)) {
            return Fail(ErrorCode::kLimitExceeded,
                        "nesting deeper than " + std::to_string(kMaxDepth) + " levels", at);
          }
          Open open;
          const bool sequence = event.type == YAML_SEQUENCE_START_EVENT;
          open.node.type = sequence ? Node::Type::kSequence : Node::Type::kMapping;
          open.node.location = at;
          open.anchor =
              Anchor(sequence ? event.data.sequence_start.anchor : event.data.mapping_start.anchor);
          open.count_at_start = count_before;
          open_.push_back(std::move(open));
          break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
          Open done = std::move(open_.back());
          open_.pop_back();
          done.node.items.shrink_to_fit();
          const std::size_t nodes = count_ - done.count_at_start;
          XROLE_RETURN_IF_ERROR(Place(std::move(done.node), done.anchor, nodes));
          break;
        }
        default:
          break;
      }
    }
  }

 private:
  struct Open {  // a collection whose end has not been read yet
    Node node;
    std::string anchor;
    std::size_t count_at_start = 0;  // count_ before this collection was counted
    bool has_key = false;            // mappings: a key was read, its value comes next
    std::string key;
    SourceLocation key_location;
    std::set<std::string> keys;
  };
  struct Anchored {
    Node node;
    std::size_t nodes = 0;  // in the tree, for the budget of every copy
  };

  static std::string Anchor(const yaml_char_t* name) {
    return name == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(name));
  }

  static SourceLocation LocationOf(const yaml_mark_t& mark) {
    return SourceLocation{static_cast<int>(mark.line) + 1, static_cast<int>(mark.column) + 1,
                          mark.index};
  }

  static Node Scalar(const yaml_event_t& event, SourceLocation at) {
    const auto& scalar = event.data.scalar;
    Node out;
    out.location = at;
    out.text.assign(reinterpret_cast<const char*>(scalar.value), scalar.length);
    const std::string tag = Anchor(scalar.tag);
    if (tag.empty()) {
      // Untagged: plain text is typed where it is used; quoted or block text is a string.
      if (scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        out.type = Node::Type::kString;
      } else if (out.text.empty() || out.text == "~" || out.text == "null" || out.text == "Null" ||
                 out.text == "NULL") {
        out.type = Node::Type::kNull;
      } else {
        out.type = Node::Type::kPlain;
      }
    } else {
      // `!!str` and the non-specific `!` ask for a string; any other tag leaves the text plain.
      out.type = tag == "!" || tag == YAML_STR_TAG ? Node::Type::kString : Node::Type::kPlain;
    }
    return out;
  }

  // Puts a finished node where the open collection expects it (or as the document's root);
  // remembers it under its anchor, with the `nodes` it counts.
  Status Place(Node node, const std::string& anchor, std::size_t nodes = 1) {
    if (!anchor.empty()) anchors_[anchor] = Anchored{node, nodes};
    if (open_.empty()) {
      document_ = std::move(node);
      return OkStatus();
    }
    Open& parent = open_.back();
    if (parent.node.is_sequence()) {
      parent.node.items.push_back(std::move(node));
      return OkStatus();
    }
    if (!parent.has_key) {
      // The text of a null-looking key counts: `Null` is an IAM condition operator.
      if ((!node.is_scalar() && !node.is_null()) || node.text.empty()) {
        return Fail(ErrorCode::kInvalidArgument, "mapping keys must be non-empty strings",
                    node.location);
      }
      if (!parent.keys.insert(node.text).second) {
        return Fail(ErrorCode::kInvalidArgument, "duplicate key " + Quote(node.text), node.location,
                    node.text);
      }
      parent.has_key = true;
      parent.key = std::move(node.text);
      parent.key_location = node.location;
      return OkStatus();
    }
    parent.has_key = false;
    parent.node.keys.push_back(std::move(parent.key));
    parent.node.key_locations.push_back(parent.key_location);
    parent.node.items.push_back(std::move(node));
    return OkStatus();
  }

  Status Count(std::size_t nodes, SourceLocation at) {
    if (nodes > max_nodes_ - std::min(count_, max_nodes_)) {
      return Fail(ErrorCode::kLimitExceeded,
                  "input expands to more than " + std::to_string(max_nodes_) + " nodes", at);
    }
    count_ += nodes;
    return OkStatus();
  }

  // The path to the node being read (for errors), ending in `last` when given.
  std::string Path(std::string_view last = "") const {
    std::string out;
    for (const Open& open : open_) {
      if (open.node.is_sequence()) {
        out = Index(out, open.node.items.size());
      } else if (open.has_key) {
        out = JoinPath(out, open.key);
      }
    }
    return last.empty() ? out : JoinPath(out, last);
  }

  Error Fail(ErrorCode code, std::string message, SourceLocation at,
             std::string_view last = "") const {
    return Error(code, std::move(message), Path(last), at);
  }

  Error SyntaxError() const {
    if (parser_.error == YAML_MEMORY_ERROR) {
      return Error(ErrorCode::kLimitExceeded, "invalid YAML: out of memory");
    }
    std::string message = "invalid YAML: ";
    message += parser_.problem != nullptr ? parser_.problem : "unreadable input";
    if (parser_.context != nullptr) {
      const SourceLocation context = LocationOf(parser_.context_mark);
      message += std::string(" (") + parser_.context + " at line " + std::to_string(context.line) +
                 ", column " + std::to_string(context.column) + ")";
    }
    return Error(ErrorCode::kInvalidArgument, std::move(message), Path(),
                 LocationOf(parser_.problem_mark));
  }

  yaml_parser_t parser_{};
  std::size_t max_nodes_;
  std::size_t count_ = 0;
  std::vector<Open> open_;
  std::map<std::string, Anchored> anchors_;
  Node document_;
};

// `located` false drops locations: used for stored canonical text, whose single line says
// nothing useful about where the user wrote the value.
Node FromJson(const json::Value& in, bool located) {
  Node out;
  if (located) out.location = in.location();
  switch (in.kind()) {
    case json::Kind::kNull:
      out.type = Node::Type::kNull;
      break;
    case json::Kind::kBool:
      out.type = Node::Type::kBool;
      out.text = in.text();
      break;
    case json::Kind::kNumber:
      out.type = Node::Type::kNumber;
      out.text = in.text();
      break;
    case json::Kind::kString:
      out.type = Node::Type::kString;
      out.text = in.text();
      break;
    case json::Kind::kArray:
      out.type = Node::Type::kSequence;
      for (const auto& item : in.items()) out.items.push_back(FromJson(*item, located));
      break;
    case json::Kind::kObject:
      out.type = Node::Type::kMapping;
      for (const json::Member& m : in.members()) {
        out.keys.push_back(m.name);
        out.key_locations.push_back(located ? m.name_location : SourceLocation{});
        out.items.push_back(FromJson(*m.value, located));
      }
      break;
  }
  return out;
}

// The node a JSON path such as `Statement[1].Condition.StringLike` names, or the deepest one
// found on the way. Member names may contain '.', so the longest matching name wins.
const Node& FindByPath(const Node& root, std::string_view path) {
  const Node* node = &root;
  while (!path.empty()) {
    if (path.front() == '.') path.remove_prefix(1);
    if (path.empty()) break;
    if (path.front() == '[') {
      const std::size_t close = path.find(']');
      if (close == std::string_view::npos || !node->is_sequence()) break;
      std::size_t i = 0;
      bool digits = close > 1;
      for (char c : path.substr(1, close - 1)) {
        if (c < '0' || c > '9') digits = false;
        i = i * 10 + static_cast<std::size_t>(c - '0');
      }
      if (!digits || i >= node->items.size()) break;
      node = &node->items[i];
      path.remove_prefix(close + 1);
      continue;
    }
    if (!node->is_mapping()) break;
    const Node* next = nullptr;
    std::size_t used = 0;
    for (std::size_t i = 0; i < node->keys.size(); ++i) {
      const std::string& key = node->keys[i];
      if (key.size() <= used || !path.starts_with(key)) continue;
      if (path.size() > key.size() && path[key.size()] != '.' && path[key.size()] != '[') {
        continue;
      }
      next = &node->items[i];
      used = key.size();
    }
    if (next == nullptr) break;
    node = next;
    path.remove_prefix(used);
  }
  return *node;
}

// ---------------------------------------------------------------------------------------------
// Schema reading. Every reader validates one value and returns both the typed value and its
// canonical JSON form.

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = AsciiLower(a[i - 1]) == AsciiLower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The members of one mapping, checked against the field names its schema knows: an unknown
// field is an error (a misspelt `conditions` must not silently drop a restriction).
class Fields {
 public:
  static Result<Fields> Read(const Node& node, std::string path,
                             std::initializer_list<std::string_view> known, std::string_view what) {
    if (!node.is_mapping()) return WrongType(node, path, "a mapping");
    for (std::size_t i = 0; i < node.keys.size(); ++i) {
      const std::string& key = node.keys[i];
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string message = "unknown field " + Quote(key) + " in " + std::string(what);
      std::string_view best;
      std::size_t best_distance = 3;
      for (std::string_view candidate : known) {
        const std::size_t d = EditDistance(key, candidate);
        if (d < best_distance) {
          best = candidate;
          best_distance = d;
        }
      }
      if (!best.empty()) message += "; did you mean " + Quote(best) + "?";
      return Error(ErrorCode::kInvalidArgument, std::move(message), JoinPath(path, key),
                   node.key_locations[i]);
    }
    return Fields(node, std::move(path));
  }

  // The value of `key`, or nullptr when it is absent or null.
  const Node* Get(std::string_view key) const {
    const Node* value = node_->Find(key);
    return value == nullptr || value->is_null() ? nullptr : value;
  }
  std::string PathOf(std::string_view key) const { return JoinPath(path_, key); }
  const Node& node() const { return *node_; }
  const std::string& path() const { return path_; }

 private:
  Fields(const Node& node, std::string path) : node_(&node), path_(std::move(path)) {}
  const Node* node_;
  std::string path_;
};

Result<std::string> ReadString(const Node& node, const std::string& path) {
  if (node.type == Node::Type::kString || node.type == Node::Type::kPlain ||
      node.type == Node::Type::kNumber) {
    return node.text;
  }
  return WrongType(node, path, "a string");
}

Result<bool> ReadBool(const Node& node, const std::string& path) {
  if (node.type == Node::Type::kBool) return node.text == "true";
  if (node.type == Node::Type::kPlain) {
    if (node.text == "true" || node.text == "True" || node.text == "TRUE") return true;
    if (node.text == "false" || node.text == "False" || node.text == "FALSE") return false;
    return Invalid(node, path, "expected `true` or `false`, found " + Quote(node.text));
  }
  return WrongType(node, path, "a boolean");
}

// A duration: seconds as a number, or text ParseDuration accepts. The canonical form is a
// number when the text is a plain count of seconds and the text otherwise.
Result<std::int64_t> ReadDuration(const Node& node, const std::string& path, std::int64_t min,
                                  std::int64_t max, Json* canonical) {
  if (!node.is_scalar() || node.type == Node::Type::kBool) {
    return WrongType(node, path, "a duration such as `15m` or `900`");
  }
  Result<std::int64_t> seconds = ParseDuration(node.text);
  if (!seconds) return Invalid(node, path, seconds.error().message());
  if (*seconds < min || *seconds > max) {
    return Invalid(node, path,
                   "duration " + Quote(node.text) + " is out of range: it must be between " +
                       std::to_string(min) + " and " + std::to_string(max) + " seconds");
  }
  const bool all_digits =
      std::all_of(node.text.begin(), node.text.end(), [](char c) { return c >= '0' && c <= '9'; });
  *canonical = all_digits ? Json(*seconds) : Json(node.text);
  return *seconds;
}

// A list of strings; a single string is read as a list of one.
Result<std::vector<std::string>> ReadStringList(const Node& node, const std::string& path) {
  std::vector<std::string> out;
  if (node.is_sequence()) {
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      XROLE_ASSIGN_OR_RETURN(std::string s, ReadString(node.items[i], Index(path, i)));
      out.push_back(std::move(s));
    }
    return out;
  }
  if (node.is_scalar() && node.type != Node::Type::kBool) {
    out.push_back(node.text);
    return out;
  }
  return WrongType(node, path, "a list of strings");
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return lower_alnum(c) || c == '-'; });
}

Status CheckName(const Node& at, const std::string& path, std::string_view name) {
  if (IsValidName(name)) return OkStatus();
  return Invalid(at, path,
                 "invalid name " + Quote(name) +
                     ": names are 1 to 63 characters of `a-z`, `0-9` and `-`, starting with a "
                     "letter or digit");
}

// An IAM path: `/` or `/`-delimited segments of printable ASCII, at most 512 characters.
Status CheckIamPath(const Node& at, const std::string& path, std::string_view value) {
  const bool printable =
      std::all_of(value.begin(), value.end(), [](char c) { return c >= '!' && c <= '~'; });
  if (value.size() <= 512 && value.starts_with("/") && value.ends_with("/") &&
      value.find("//") == std::string_view::npos && printable) {
    return OkStatus();
  }
  return Invalid(at, path,
                 "invalid path " + Quote(value) +
                     ": expected `/` or a path such as `/team/`: printable characters without "
                     "spaces, starting and ending with `/`, at most 512 characters");
}

Result<std::vector<std::string>> ReadNameList(const Node& node, const std::string& path,
                                              bool allow_wildcard) {
  XROLE_ASSIGN_OR_RETURN(std::vector<std::string> names, ReadStringList(node, path));
  if (names.empty()) {
    // An empty list would read as "no restriction" in some places and "nobody" in others.
    return Invalid(node, path, "the list must not be empty; omit the field instead");
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const Node& at = node.is_sequence() ? node.items[i] : node;
    if (allow_wildcard && names[i] == "*") {
      if (names.size() != 1) {
        return Invalid(at, Index(path, i), "`*` must be the only entry when it is used");
      }
      continue;
    }
    XROLE_RETURN_IF_ERROR(CheckName(at, Index(path, i), names[i]));
  }
  return names;
}

Result<std::map<std::string, std::string>> ReadTags(const Node& node, const std::string& path,
                                                    Json* canonical) {
  if (!node.is_mapping()) return WrongType(node, path, "a mapping of tag names to values");
  std::map<std::string, std::string> tags;
  *canonical = Json::object();
  for (std::size_t i = 0; i < node.keys.size(); ++i) {
    const std::string& key = node.keys[i];
    const std::string key_path = JoinPath(path, key);
    if (key.empty() || key.size() > 128) {
      return Error(ErrorCode::kInvalidArgument, "tag keys must be 1 to 128 characters", key_path,
                   node.key_locations[i]);
    }
    std::string value;
    if (!node.items[i].is_null()) {
      XROLE_ASSIGN_OR_RETURN(value, ReadString(node.items[i], key_path));
    }
    if (value.size() > 256)
      return Invalid(node.items[i], key_path, "tag values are at most 256 characters");
    (*canonical)[key] = value;
    tags[key] = std::move(value);
  }
  return tags;
}

bool IsAccountId(std::string_view s) {
  return s.size() == 12 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::string> ReadAccount(const Node& node, const std::string& path) {
  XROLE_ASSIGN_OR_RETURN(std::string account, ReadString(node, path));
  if (!IsAccountId(account)) {
    return Invalid(node, path, "invalid account " + Quote(account) + ": expected 12 digits");
  }
  return account;
}

Result<std::string> ReadDate(const Node& node, const std::string& path) {
  XROLE_ASSIGN_OR_RETURN(std::string text, ReadString(node, path));
  auto fail = [&] {
    return Invalid(node, path, "invalid date " + Quote(text) + ": expected YYYY-MM-DD");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return fail();
  int parts[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 5, 8};
  const std::size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (std::size_t i = 0; i < lengths[p]; ++i) {
      const char c = text[starts[p] + i];
      if (c < '0' || c > '9') return fail();
      parts[p] = parts[p] * 10 + (c - '0');
    }
  }
  const int year = parts[0], month = parts[1], day = parts[2];
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return fail();
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > days) return fail();
  return text;
}

Result<std::string> ReadEmail(const Node& node, const std::string& path) {
  XROLE_ASSIGN_OR_RETURN(std::string email, ReadString(node, path));
  const std::size_t at = email.find('@');
  const bool ok = at != std::string::npos && at > 0 && at + 1 < email.size() &&
                  email.find('@', at + 1) == std::string::npos &&
                  std::none_of(email.begin(), email.end(),
                               [](char c) { return c == ' ' || c == '\t' || c == '\n'; });
  if (!ok) return Invalid(node, path, "invalid email address " + Quote(email));
  return email;
}

// A policy document in its canonical JSON form: structure kept, every scalar a string (IAM
// reads numbers and booleans in conditions as their text, and YAML's `Version: 2012-10-17`
// must stay the string it is).
Json PolicyJson(const Node& node) {
  switch (node.type) {
    case Node::Type::kNull:
      return nullptr;
    case Node::Type::kBool:
    case Node::Type::kNumber:
    case Node::Type::kString:
    case Node::Type::kPlain:
      return node.text;
    case Node::Type::kSequence: {
      Json out = Json::array();
      for (const Node& item : node.items) out.push_back(PolicyJson(item));
      return out;
    }
    case Node::Type::kMapping: {
      Json out = Json::object();
      for (std::size_t i = 0; i < node.keys.size(); ++i)
        out[node.keys[i]] = PolicyJson(node.items[i]);
      return out;
    }
  }
  return nullptr;
}

// Runs `json_text` through the policy engine. Its errors are re-pointed at the user's text:
// the path is prefixed with `path`, and the location is the line of the node the path names
// in `written` (when that node is the document as written).
Result<policy::Policy> CheckPolicy(const Json& document, policy::PolicyKind kind,
                                   const std::string& name, const Node& written,
                                   const std::string& path) {
  Result<policy::Policy> parsed = policy::ParsePolicy(Dump(document), kind, name);
  if (parsed) return parsed;
  const Error& e = parsed.error();
  const Node& at = FindByPath(written, e.path());
  return Error(e.code(), e.message(), JoinPath(path, e.path()), at.location);
}

// A policy entry: a document, or {name, policy: document}.
Result<NamedPolicy> ReadPolicyEntry(const Node& node, const std::string& path,
                                    policy::PolicyKind kind, std::string default_name,
                                    Json* canonical) {
  if (!node.is_mapping()) return WrongType(node, path, "a policy document (a mapping)");
  NamedPolicy out;
  out.name = std::move(default_name);
  const Node* document = &node;
  std::string document_path = path;
  if (node.Find("policy") != nullptr && node.Find("Statement") == nullptr) {
    XROLE_ASSIGN_OR_RETURN(Fields fields,
                           Fields::Read(node, path, {"name", "policy"}, "a named policy"));
    *canonical = Json::object();
    if (const Node* n = fields.Get("name")) {
      XROLE_ASSIGN_OR_RETURN(out.name, ReadString(*n, fields.PathOf("name")));
      if (out.name.empty()) {
        return Invalid(*n, fields.PathOf("name"), "policy names must not be empty");
      }
      (*canonical)["name"] = out.name;
    }
    document_path = fields.PathOf("policy");
    document = fields.Get("policy");
    if (document == nullptr) return Invalid(node, document_path, "missing policy document");
    if (!document->is_mapping()) {
      return WrongType(*document, document_path, "a policy document (a mapping)");
    }
  }
  Json doc = PolicyJson(*document);
  XROLE_ASSIGN_OR_RETURN(policy::Policy parsed,
                         CheckPolicy(doc, kind, out.name, *document, document_path));
  out.json = Dump(doc);
  out.policy = std::move(parsed);
  if (document == &node) {
    *canonical = std::move(doc);
  } else {
    (*canonical)["policy"] = std::move(doc);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Documents.

// What cross references are checked against (BuildCatalog). Without it (ParseObjectDocuments)
// references are checked for form only and agents are taken to live in the default account.
struct References {
  std::set<std::string> humans;
  std::set<std::string> workflows;
  std::set<std::string> roles;
  std::map<std::string, Agent> agents;
};

using TypedObject = std::variant<ExecutionRole, Agent, Human, Workflow, Guardrail, ManagedPolicy>;

struct Decoded {
  ObjectKind kind;
  std::string name;
  Json canonical;
  TypedObject object;
};

std::optional<ObjectKind> KindFromName(std::string_view name) {
  for (ObjectKind kind : kAllKinds) {
    if (ObjectKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

struct Header {
  ObjectKind kind;
  std::string name;
};

// apiVersion, kind and metadata.name: enough to name the document in later errors.
Result<Header> ReadHeader(const Node& root) {
  if (!root.is_mapping()) return WrongType(root, "", "a document (a mapping)");
  const Node* api = root.Find("apiVersion");
  if (api == nullptr || api->is_null()) return Invalid(root, "apiVersion", "missing `apiVersion`");
  XROLE_ASSIGN_OR_RETURN(std::string api_version, ReadString(*api, "apiVersion"));
  if (api_version != kApiVersion) {
    return Invalid(*api, "apiVersion",
                   "unsupported apiVersion " + Quote(api_version) + ": expected `xrole/v1`");
  }
  const Node* kind_node = root.Find("kind");
  if (kind_node == nullptr || kind_node->is_null()) return Invalid(root, "kind", "missing `kind`");
  XROLE_ASSIGN_OR_RETURN(std::string kind_name, ReadString(*kind_node, "kind"));
  std::optional<ObjectKind> kind = KindFromName(kind_name);
  if (!kind) {
    return Invalid(*kind_node, "kind",
                   "unknown kind " + Quote(kind_name) +
                       ": expected one of ExecutionRole, Agent, Human, Workflow, Guardrail, "
                       "ManagedPolicy");
  }
  const Node* metadata = root.Find("metadata");
  const Node* name_node =
      metadata != nullptr && metadata->is_mapping() ? metadata->Find("name") : nullptr;
  if (name_node == nullptr || name_node->is_null()) {
    return Invalid(metadata != nullptr ? *metadata : root, "metadata.name",
                   "missing `metadata.name`");
  }
  XROLE_ASSIGN_OR_RETURN(std::string name, ReadString(*name_node, "metadata.name"));
  XROLE_RETURN_IF_ERROR(CheckName(*name_node, "metadata.name", name));
  return Header{*kind, std::move(name)};
}

// Reads one document of the given kind. `refs` may be null (see References).
class DocumentReader {
 public:
  DocumentReader(const Node& root, const Header& header, const References* refs)
      : root_(root), header_(header), refs_(refs) {}

  Result<Decoded> Read() {
    XROLE_ASSIGN_OR_RETURN(
        Fields top,
        Fields::Read(root_, "", {"apiVersion", "kind", "metadata", "spec"}, "the document"));
    XROLE_ASSIGN_OR_RETURN(Fields metadata,
                           Fields::Read(*top.Get("metadata"), "metadata",
                                        {"name", "owner", "labels", "annotations"}, "metadata"));
    canonical_["apiVersion"] = std::string(kApiVersion);
    canonical_["kind"] = std::string(ObjectKindName(header_.kind));
    Json& meta = canonical_["metadata"];
    meta["name"] = header_.name;
    if (const Node* owner = metadata.Get("owner")) {
      XROLE_ASSIGN_OR_RETURN(metadata_owner_, ReadString(*owner, "metadata.owner"));
      meta["owner"] = metadata_owner_;
    }
    for (std::string_view map_field : {"labels", "annotations"}) {
      if (const Node* labels = metadata.Get(map_field)) {
        Json value;
        XROLE_RETURN_IF_ERROR(ReadTags(*labels, metadata.PathOf(map_field), &value));
        meta[std::string(map_field)] = std::move(value);
      }
    }
    empty_spec_.type = Node::Type::kMapping;
    spec_node_ = top.Get("spec") != nullptr ? top.Get("spec") : &empty_spec_;
    canonical_["spec"] = Json::object();

    Decoded out{header_.kind, header_.name, Json(), Human()};
    switch (header_.kind) {
      case ObjectKind::kExecutionRole: {
        XROLE_ASSIGN_OR_RETURN(out.object, ReadRole());
        break;
      }
      case ObjectKind::kAgent: {
        XROLE_ASSIGN_OR_RETURN(out.object, ReadAgent());
        break;
      }
      case ObjectKind::kHuman: {
        XROLE_ASSIGN_OR_RETURN(out.object, ReadHuman());
        break;
      }
      case ObjectKind::kWorkflow: {
        XROLE_ASSIGN_OR_RETURN(out.object, ReadWorkflow());
        break;
      }
      case ObjectKind::kGuardrail: {
        XROLE_ASSIGN_OR_RETURN(out.object, ReadGuardrail());
        break;
      }
      case ObjectKind::kManagedPolicy: {
        XROLE_ASSIGN_OR_RETURN(out.object, ReadManagedPolicy());
        break;
      }
    }
    out.canonical = std::move(canonical_);
    return out;
  }

 private:
  Json& spec() { return canonical_["spec"]; }

  Result<Fields> SpecFields(std::initializer_list<std::string_view> known) {
    return Fields::Read(*spec_node_, "spec", known,
                        std::string(ObjectKindName(header_.kind)) + " spec");
  }

  Result<std::string> ReadStringField(const Fields& fields, std::string_view key) {
    const Node* node = fields.Get(key);
    if (node == nullptr) return std::string();
    XROLE_ASSIGN_OR_RETURN(std::string value, ReadString(*node, fields.PathOf(key)));
    spec()[std::string(key)] = value;
    return value;
  }

  Result<std::string> ReadOwner(const Fields& fields) {
    XROLE_ASSIGN_OR_RETURN(std::string owner, ReadStringField(fields, "owner"));
    if (owner.empty()) return metadata_owner_;
    if (!metadata_owner_.empty() && owner != metadata_owner_) {
      return Invalid(
          *fields.Get("owner"), fields.PathOf("owner"),
          "owner " + Quote(owner) + " differs from metadata.owner " + Quote(metadata_owner_));
    }
    return owner;
  }

  Result<std::string> ReadAccountField(const Fields& fields) {
    const Node* node = fields.Get("account");
    if (node == nullptr) return std::string(kDefaultAccount);
    XROLE_ASSIGN_OR_RETURN(std::string account, ReadAccount(*node, fields.PathOf("account")));
    spec()["account"] = account;
    return account;
  }

  Result<std::map<std::string, std::string>> ReadTagsField(const Fields& fields) {
    const Node* node = fields.Get("tags");
    if (node == nullptr) return std::map<std::string, std::string>();
    Json canonical;
    XROLE_ASSIGN_OR_RETURN(auto tags, ReadTags(*node, fields.PathOf("tags"), &canonical));
    spec()["tags"] = std::move(canonical);
    return tags;
  }

  // Checks that `name` is an object of `kind`, when references are being checked.
  Status CheckReference(const Node& at, const std::string& path, ObjectKind kind,
                        const std::string& name) const {
    if (refs_ == nullptr) return OkStatus();
    bool found = false;
    switch (kind) {
      case ObjectKind::kHuman:
        found = refs_->humans.count(name) > 0;
        break;
      case ObjectKind::kWorkflow:
        found = refs_->workflows.count(name) > 0;
        break;
      case ObjectKind::kExecutionRole:
        found = refs_->roles.count(name) > 0;
        break;
      case ObjectKind::kAgent:
        found = refs_->agents.count(name) > 0;
        break;
      case ObjectKind::kGuardrail:
      case ObjectKind::kManagedPolicy:
        break;
    }
    if (found) return OkStatus();
    return Invalid(at, path,
                   "unknown " + std::string(ObjectKindName(kind)) + " " + Quote(name) +
                       ": no such object is defined");
  }

  Status CheckReferences(const Node& list, const std::string& path, ObjectKind kind,
                         const std::vector<std::string>& names) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "*") continue;
      const Node& at = list.is_sequence() ? list.items[i] : list;
      XROLE_RETURN_IF_ERROR(CheckReference(at, Index(path, i), kind, names[i]));
    }
    return OkStatus();
  }

  std::string AgentArn(const std::string& name) const {
    if (refs_ != nullptr) {
      auto it = refs_->agents.find(name);
      if (it != refs_->agents.end()) return it->second.Arn();
    }
    Agent agent;
    agent.name = name;
    return agent.Arn();
  }

  Result<ExecutionRole> ReadRole() {
    XROLE_ASSIGN_OR_RETURN(
        Fields fields,
        SpecFields({"account", "description", "objective", "owner", "maxSessionDuration", "trust",
                    "approval", "permissions", "boundary", "environment", "reviewBy", "tags"}));
    ExecutionRole role;
    role.name = header_.name;
    XROLE_ASSIGN_OR_RETURN(role.account, ReadAccountField(fields));
    XROLE_ASSIGN_OR_RETURN(role.description, ReadStringField(fields, "description"));
    XROLE_ASSIGN_OR_RETURN(role.objective, ReadStringField(fields, "objective"));
    XROLE_ASSIGN_OR_RETURN(role.owner, ReadOwner(fields));
    XROLE_ASSIGN_OR_RETURN(role.environment, ReadStringField(fields, "environment"));
    if (const Node* node = fields.Get("maxSessionDuration")) {
      XROLE_ASSIGN_OR_RETURN(
          role.max_session_seconds,
          ReadDuration(*node, fields.PathOf("maxSessionDuration"), kMinSessionSeconds,
                       kMaxSessionSeconds, &spec()["maxSessionDuration"]));
    }
    if (const Node* node = fields.Get("reviewBy")) {
      XROLE_ASSIGN_OR_RETURN(role.review_by, ReadDate(*node, fields.PathOf("reviewBy")));
      spec()["reviewBy"] = role.review_by;
    }
    XROLE_ASSIGN_OR_RETURN(role.tags, ReadTagsField(fields));
    if (const Node* node = fields.Get("approval")) {
      XROLE_ASSIGN_OR_RETURN(Fields approval, Fields::Read(*node, fields.PathOf("approval"),
                                                           {"required", "ttl"}, "approval"));
      Json& canonical = spec()["approval"] = Json::object();
      if (const Node* required = approval.Get("required")) {
        XROLE_ASSIGN_OR_RETURN(role.approval_required,
                               ReadBool(*required, approval.PathOf("required")));
        canonical["required"] = role.approval_required;
      }
      if (const Node* ttl = approval.Get("ttl")) {
        XROLE_ASSIGN_OR_RETURN(role.approval_ttl_seconds,
                               ReadDuration(*ttl, approval.PathOf("ttl"), kMinApprovalTtlSeconds,
                                            kMaxApprovalTtlSeconds, &canonical["ttl"]));
      }
    }
    const Node* trust = fields.Get("trust");
    if (trust == nullptr) {
      return Invalid(*spec_node_, fields.PathOf("trust"),
                     "missing `spec.trust`: an execution role must say who may assume it");
    }
    XROLE_ASSIGN_OR_RETURN(role.trust, ReadTrust(*trust, fields.PathOf("trust")));
    if (const Node* node = fields.Get("permissions")) {
      const std::string path = fields.PathOf("permissions");
      if (!node->is_sequence()) return WrongType(*node, path, "a list of policy documents");
      Json& canonical = spec()["permissions"] = Json::array();
      std::set<std::string> names;
      for (std::size_t i = 0; i < node->items.size(); ++i) {
        const std::string item_path = Index(path, i);
        Json item;
        XROLE_ASSIGN_OR_RETURN(
            NamedPolicy p, ReadPolicyEntry(node->items[i], item_path, policy::PolicyKind::kIdentity,
                                           Index("permissions", i), &item));
        if (!names.insert(p.name).second) {
          return Invalid(node->items[i], item_path, "duplicate policy name " + Quote(p.name));
        }
        canonical.push_back(std::move(item));
        role.permissions.push_back(std::move(p));
      }
    }
    if (const Node* node = fields.Get("boundary")) {
      Json canonical;
      XROLE_ASSIGN_OR_RETURN(
          NamedPolicy p, ReadPolicyEntry(*node, fields.PathOf("boundary"),
                                         policy::PolicyKind::kBoundary, "boundary", &canonical));
      spec()["boundary"] = std::move(canonical);
      role.boundary = std::move(p);
    }
    return role;
  }

  // `trust`: an IAM trust policy document, or the shorthand
  // {agents: [...], workflows: [...], humans: [...], conditions: {...}}.
  Result<NamedPolicy> ReadTrust(const Node& node, const std::string& path) {
    if (!node.is_mapping()) return WrongType(node, path, "a trust policy or trust shorthand");
    if (node.Find("Statement") != nullptr || node.Find("Version") != nullptr) {
      Json canonical;
      XROLE_ASSIGN_OR_RETURN(NamedPolicy p, ReadPolicyEntry(node, path, policy::PolicyKind::kTrust,
                                                            "trust", &canonical));
      spec()["trust"] = std::move(canonical);
      return p;
    }
    // Statement and Version are listed so that a misspelt document is reported as such.
    XROLE_ASSIGN_OR_RETURN(Fields fields, Fields::Read(node, path,
                                                       {"agents", "workflows", "humans",
                                                        "conditions", "Statement", "Version"},
                                                       "the trust shorthand"));
    Json& canonical = spec()["trust"] = Json::object();
    std::vector<std::string> agents;
    std::vector<std::string> workflows;
    std::vector<std::string> humans;
    Json conditions = Json::object();
    if (const Node* list = fields.Get("agents")) {
      XROLE_ASSIGN_OR_RETURN(agents, ReadNameList(*list, fields.PathOf("agents"), true));
      XROLE_RETURN_IF_ERROR(
          CheckReferences(*list, fields.PathOf("agents"), ObjectKind::kAgent, agents));
      canonical["agents"] = agents;
    }
    if (const Node* list = fields.Get("workflows")) {
      XROLE_ASSIGN_OR_RETURN(workflows, ReadNameList(*list, fields.PathOf("workflows"), false));
      XROLE_RETURN_IF_ERROR(
          CheckReferences(*list, fields.PathOf("workflows"), ObjectKind::kWorkflow, workflows));
      canonical["workflows"] = workflows;
    }
    if (const Node* list = fields.Get("humans")) {
      XROLE_ASSIGN_OR_RETURN(humans, ReadNameList(*list, fields.PathOf("humans"), false));
      XROLE_RETURN_IF_ERROR(
          CheckReferences(*list, fields.PathOf("humans"), ObjectKind::kHuman, humans));
      canonical["humans"] = humans;
    }
    const Node* conditions_node = fields.Get("conditions");
    if (conditions_node != nullptr) {
      if (!conditions_node->is_mapping()) {
        return WrongType(*conditions_node, fields.PathOf("conditions"),
                         "an IAM Condition block (a mapping of operators)");
      }
      conditions = PolicyJson(*conditions_node);
      canonical["conditions"] = conditions;
    }
    if (agents.empty() && workflows.empty() && humans.empty() && conditions.empty()) {
      return Invalid(node, path,
                     "the trust shorthand names nobody: list `agents` (`[\"*\"]` for every "
                     "agent), `workflows`, `humans` or `conditions`");
    }
    auto add_condition = [&](const char* key, const std::vector<std::string>& values,
                             const char* field) -> Status {
      if (values.empty()) return OkStatus();
      Json& block = conditions["StringEquals"];
      if (block.is_null()) block = Json::object();
      if (!block.is_object()) return OkStatus();  // the policy engine reports the shape
      for (const auto& [existing, value] : block.items()) {
        if (EqualsIgnoreCase(existing, key)) {
          return Invalid(*conditions_node, JoinPath(fields.PathOf("conditions"), "StringEquals"),
                         "condition key " + Quote(existing) + " is set by `" + field +
                             "`; do not also give it in `conditions`");
        }
      }
      block[key] = values;
      return OkStatus();
    };
    XROLE_RETURN_IF_ERROR(add_condition("xrole:Workflow", workflows, "workflows"));
    XROLE_RETURN_IF_ERROR(add_condition("xrole:OnBehalfOf", humans, "humans"));

    Json statement = Json::object();
    statement["Sid"] = "TrustShorthand";
    statement["Effect"] = "Allow";
    statement["Action"] = "sts:AssumeRole";
    if (agents.empty() || agents.front() == "*") {
      statement["Principal"] = "*";
    } else {
      Json arns = Json::array();
      for (const std::string& agent : agents) arns.push_back(AgentArn(agent));
      statement["Principal"] = Json{{"AWS", std::move(arns)}};
    }
    if (!conditions.empty()) statement["Condition"] = conditions;
    Json document = Json::object();
    document["Version"] = "2012-10-17";
    document["Statement"] = Json::array({statement});

    NamedPolicy out;
    out.name = "trust";
    Result<policy::Policy> parsed =
        policy::ParsePolicy(Dump(document), policy::PolicyKind::kTrust, out.name);
    if (!parsed) {
      // Only the conditions come from the user; point at them when the error is there.
      const Error& e = parsed.error();
      constexpr std::string_view kConditionPath = "Statement[0].Condition";
      if (conditions_node != nullptr && e.path().starts_with(kConditionPath)) {
        const std::string rest = e.path().substr(kConditionPath.size());
        const Node& at = FindByPath(*conditions_node, rest);
        return Error(e.code(), e.message(), fields.PathOf("conditions") + rest, at.location);
      }
      return Error(e.code(), e.message(), path, node.location);
    }
    out.policy = std::move(parsed).value();
    out.json = Dump(document);
    return out;
  }

  Result<Agent> ReadAgent() {
    XROLE_ASSIGN_OR_RETURN(Fields fields, SpecFields({"sponsor", "account", "description", "owner",
                                                      "tags", "disabled"}));
    Agent agent;
    agent.name = header_.name;
    if (const Node* sponsor = fields.Get("sponsor")) {
      const std::string path = fields.PathOf("sponsor");
      XROLE_ASSIGN_OR_RETURN(agent.sponsor, ReadString(*sponsor, path));
      XROLE_RETURN_IF_ERROR(CheckName(*sponsor, path, agent.sponsor));
      XROLE_RETURN_IF_ERROR(CheckReference(*sponsor, path, ObjectKind::kHuman, agent.sponsor));
      spec()["sponsor"] = agent.sponsor;
    }
    XROLE_ASSIGN_OR_RETURN(agent.account, ReadAccountField(fields));
    XROLE_ASSIGN_OR_RETURN(agent.description, ReadStringField(fields, "description"));
    XROLE_ASSIGN_OR_RETURN(agent.owner, ReadOwner(fields));
    XROLE_ASSIGN_OR_RETURN(agent.tags, ReadTagsField(fields));
    if (const Node* disabled = fields.Get("disabled")) {
      XROLE_ASSIGN_OR_RETURN(agent.disabled, ReadBool(*disabled, fields.PathOf("disabled")));
      spec()["disabled"] = agent.disabled;
    }
    return agent;
  }

  Result<Human> ReadHuman() {
    XROLE_ASSIGN_OR_RETURN(Fields fields, SpecFields({"email", "tags", "canApprove"}));
    Human human;
    human.name = header_.name;
    if (const Node* email = fields.Get("email")) {
      XROLE_ASSIGN_OR_RETURN(human.email, ReadEmail(*email, fields.PathOf("email")));
      spec()["email"] = human.email;
    }
    XROLE_ASSIGN_OR_RETURN(human.tags, ReadTagsField(fields));
    if (const Node* can_approve = fields.Get("canApprove")) {
      XROLE_ASSIGN_OR_RETURN(human.can_approve,
                             ReadBool(*can_approve, fields.PathOf("canApprove")));
      spec()["canApprove"] = human.can_approve;
    }
    return human;
  }

  Result<Workflow> ReadWorkflow() {
    XROLE_ASSIGN_OR_RETURN(
        Fields fields, SpecFields({"description", "owner", "roles", "needs", "maxRunDuration"}));
    Workflow workflow;
    workflow.name = header_.name;
    XROLE_ASSIGN_OR_RETURN(workflow.description, ReadStringField(fields, "description"));
    XROLE_ASSIGN_OR_RETURN(workflow.owner, ReadOwner(fields));
    if (const Node* roles = fields.Get("roles")) {
      const std::string path = fields.PathOf("roles");
      XROLE_ASSIGN_OR_RETURN(workflow.roles, ReadNameList(*roles, path, false));
      XROLE_RETURN_IF_ERROR(
          CheckReferences(*roles, path, ObjectKind::kExecutionRole, workflow.roles));
      spec()["roles"] = workflow.roles;
    }
    if (const Node* needs = fields.Get("needs")) {
      const std::string path = fields.PathOf("needs");
      if (!needs->is_sequence()) return WrongType(*needs, path, "a list of task requirements");
      Json& canonical = spec()["needs"] = Json::array();
      for (std::size_t i = 0; i < needs->items.size(); ++i) {
        XROLE_ASSIGN_OR_RETURN(
            Fields need, Fields::Read(needs->items[i], Index(path, i), {"actions", "resources"},
                                      "a task requirement"));
        TaskRequirement requirement;
        Json item = Json::object();
        const Node* actions = need.Get("actions");
        if (actions == nullptr) {
          return Invalid(needs->items[i], need.PathOf("actions"), "missing `actions`");
        }
        XROLE_ASSIGN_OR_RETURN(requirement.actions,
                               ReadStringList(*actions, need.PathOf("actions")));
        for (std::size_t a = 0; a < requirement.actions.size(); ++a) {
          const std::string& action = requirement.actions[a];
          if (action != "*" && action.find(':') == std::string::npos) {
            return Invalid(actions->is_sequence() ? actions->items[a] : *actions,
                           Index(need.PathOf("actions"), a),
                           "invalid action " + Quote(action) + ": expected `service:Action`");
          }
        }
        if (requirement.actions.empty()) {
          return Invalid(*actions, need.PathOf("actions"), "`actions` must not be empty");
        }
        item["actions"] = requirement.actions;
        if (const Node* resources = need.Get("resources")) {
          XROLE_ASSIGN_OR_RETURN(requirement.resources,
                                 ReadStringList(*resources, need.PathOf("resources")));
          item["resources"] = requirement.resources;
        }
        if (requirement.resources.empty()) requirement.resources = {"*"};
        canonical.push_back(std::move(item));
        workflow.needs.push_back(std::move(requirement));
      }
    }
    if (const Node* node = fields.Get("maxRunDuration")) {
      XROLE_ASSIGN_OR_RETURN(workflow.max_run_seconds,
                             ReadDuration(*node, fields.PathOf("maxRunDuration"), kMinRunSeconds,
                                          kMaxRunSeconds, &spec()["maxRunDuration"]));
    }
    return workflow;
  }

  Result<Guardrail> ReadGuardrail() {
    XROLE_ASSIGN_OR_RETURN(Fields fields, SpecFields({"description", "scope", "policy"}));
    Guardrail guardrail;
    guardrail.name = header_.name;
    XROLE_ASSIGN_OR_RETURN(guardrail.description, ReadStringField(fields, "description"));
    if (const Node* scope = fields.Get("scope")) {
      XROLE_ASSIGN_OR_RETURN(std::string text, ReadString(*scope, fields.PathOf("scope")));
      if (text == "principal") {
        guardrail.scope = GuardrailScope::kPrincipal;
      } else if (text == "resource") {
        guardrail.scope = GuardrailScope::kResource;
      } else {
        return Invalid(*scope, fields.PathOf("scope"),
                       "unknown scope " + Quote(text) + ": expected `principal` or `resource`");
      }
      spec()["scope"] = text;
    }
    const Node* policy_node = fields.Get("policy");
    if (policy_node == nullptr) {
      return Invalid(*spec_node_, fields.PathOf("policy"), "missing `spec.policy`");
    }
    const policy::PolicyKind kind = guardrail.scope == GuardrailScope::kPrincipal
                                        ? policy::PolicyKind::kScp
                                        : policy::PolicyKind::kRcp;
    Json canonical;
    XROLE_ASSIGN_OR_RETURN(guardrail.policy, ReadPolicyEntry(*policy_node, fields.PathOf("policy"),
                                                             kind, header_.name, &canonical));
    spec()["policy"] = std::move(canonical);
    return guardrail;
  }

  Result<ManagedPolicy> ReadManagedPolicy() {
    XROLE_ASSIGN_OR_RETURN(Fields fields,
                           SpecFields({"account", "path", "description", "document"}));
    ManagedPolicy managed;
    managed.name = header_.name;
    XROLE_ASSIGN_OR_RETURN(managed.account, ReadAccountField(fields));
    if (const Node* node = fields.Get("path")) {
      XROLE_ASSIGN_OR_RETURN(managed.path, ReadString(*node, fields.PathOf("path")));
      XROLE_RETURN_IF_ERROR(CheckIamPath(*node, fields.PathOf("path"), managed.path));
      spec()["path"] = managed.path;
    }
    XROLE_ASSIGN_OR_RETURN(managed.description, ReadStringField(fields, "description"));
    const Node* document = fields.Get("document");
    if (document == nullptr) {
      return Invalid(*spec_node_, fields.PathOf("document"), "missing `spec.document`");
    }
    if (!document->is_mapping()) {
      return WrongType(*document, fields.PathOf("document"), "a policy document (a mapping)");
    }
    Json doc = PolicyJson(*document);
    XROLE_ASSIGN_OR_RETURN(policy::Policy parsed,
                           CheckPolicy(doc, policy::PolicyKind::kIdentity, "document", *document,
                                       fields.PathOf("document")));
    managed.document.name = "document";
    managed.document.json = Dump(doc);
    managed.document.policy = std::move(parsed);
    spec()["document"] = std::move(doc);
    return managed;
  }

  const Node& root_;
  const Header& header_;
  const References* refs_;
  const Node* spec_node_ = nullptr;
  Node empty_spec_;  // stands for an absent `spec`
  std::string metadata_owner_;
  Json canonical_ = Json::object();
};

std::string KeyOf(ObjectKind kind, std::string_view name) {
  return std::string(ObjectKindName(kind)) + "/" + std::string(name);
}

// Reads and checks one document. Errors are prefixed with where it is: `source:line` (the
// problem's line when known, else `fallback_source`) and `Kind/name` when known.
Result<Decoded> DecodeDocument(const Node& root, const References* refs,
                               std::string_view source_name, const std::string& fallback_source) {
  auto wrap = [&](const Error& e, const Header* header) {
    std::string prefix = e.location().known()
                             ? std::string(source_name) + ":" + std::to_string(e.location().line)
                             : fallback_source;
    if (header != nullptr) prefix += ": " + KeyOf(header->kind, header->name);
    return e.WithContext(prefix);
  };
  Result<Header> header = ReadHeader(root);
  if (!header) return wrap(header.error(), nullptr);
  Result<Decoded> decoded = DocumentReader(root, *header, refs).Read();
  if (!decoded) return wrap(decoded.error(), &header.value());
  return decoded;
}

void SetHash(TypedObject& object, const std::string& hash) {
  std::visit([&](auto& typed) { typed.hash = hash; }, object);
}

// The documents of one text: a JSON object or array of objects, or YAML documents (a YAML
// document that is a list holds one object per item).
Result<std::vector<Node>> ReadRoots(std::string_view text, std::string_view source_name) {
  std::vector<Node> roots;
  if (text.size() > kMaxInputBytes) {
    return Error(ErrorCode::kLimitExceeded, std::string(source_name) + ": input is larger than " +
                                                std::to_string(kMaxInputBytes) + " bytes");
  }
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return roots;
  auto add = [&](Node node) {
    if (node.is_sequence()) {
      for (Node& item : node.items) roots.push_back(std::move(item));
    } else if (!node.is_null()) {
      roots.push_back(std::move(node));
    }
  };
  // `roles.yaml:12` when the error knows its line.
  auto where = [&](const Error& e) {
    return e.location().known() ? std::string(source_name) + ":" + std::to_string(e.location().line)
                                : std::string(source_name);
  };
  if (text[first] == '{' || text[first] == '[') {
    Result<std::unique_ptr<json::Value>> parsed = json::Parse(text);
    if (!parsed) {
      return parsed.error().WithContext(where(parsed.error()) + ": invalid JSON");
    }
    add(FromJson(**parsed, /*located=*/true));
    return roots;
  }
  // Every node of the text costs at least a byte; aliases can repeat nodes, within a budget.
  YamlReader reader(text, kMaxNodes + text.size());
  Result<std::vector<Node>> documents = reader.ReadAll();
  if (!documents) return documents.error().WithContext(where(documents.error()));
  for (Node& document : *documents) add(std::move(document));
  return roots;
}

}  // namespace

std::string_view ObjectKindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kExecutionRole:
      return "ExecutionRole";
    case ObjectKind::kAgent:
      return "Agent";
    case ObjectKind::kHuman:
      return "Human";
    case ObjectKind::kWorkflow:
      return "Workflow";
    case ObjectKind::kGuardrail:
      return "Guardrail";
    case ObjectKind::kManagedPolicy:
      return "ManagedPolicy";
  }
  return "ExecutionRole";
}

std::string ExecutionRole::Arn() const { return "arn:aws:iam::" + account + ":role/" + name; }

std::string ManagedPolicy::Arn() const {
  return "arn:aws:iam::" + account + ":policy" + path + name;
}

std::string Agent::Arn() const { return "arn:aws:iam::" + account + ":user/xrole/agent/" + name; }

Result<std::vector<ObjectDocument>> ParseObjectDocuments(std::string_view text,
                                                         std::string_view source_name) {
  XROLE_ASSIGN_OR_RETURN(std::vector<Node> roots, ReadRoots(text, source_name));
  std::vector<ObjectDocument> out;
  out.reserve(roots.size());
  for (const Node& root : roots) {
    const std::string source =
        std::string(source_name) + ":" + std::to_string(std::max(root.location.line, 1));
    XROLE_ASSIGN_OR_RETURN(Decoded decoded, DecodeDocument(root, nullptr, source_name, source));
    ObjectDocument document;
    document.kind = decoded.kind;
    document.name = std::move(decoded.name);
    document.canonical_json = Dump(decoded.canonical);
    document.hash = crypto::Sha256Hex(document.canonical_json);
    document.source = source;
    out.push_back(std::move(document));
  }
  return out;
}

Result<std::vector<ObjectDocument>> ExpandTrustShorthandsNaming(const Catalog& catalog,
                                                                ObjectKind kind,
                                                                std::string_view name) {
  std::vector<ObjectDocument> out;
  const char* list = kind == ObjectKind::kAgent      ? "agents"
                     : kind == ObjectKind::kWorkflow ? "workflows"
                                                     : nullptr;
  if (list == nullptr) return out;
  for (const auto& [role_name, role] : catalog.roles) {
    const std::string key = KeyOf(ObjectKind::kExecutionRole, role_name);
    auto stored = catalog.documents.find(key);
    if (stored == catalog.documents.end()) {
      return Error(ErrorCode::kInternal, Quote(key) + " has no document in the catalog");
    }
    Json document = Json::parse(stored->second.canonical_json, nullptr, /*allow_exceptions=*/false);
    if (!document.is_object() || !document["spec"].is_object()) {
      return Error(ErrorCode::kInternal, Quote(key) + ": stored document has no spec");
    }
    Json& trust = document["spec"]["trust"];
    if (!trust.is_object() || !trust.contains(list) || !trust[list].is_array()) continue;
    const Json& names = trust[list];
    if (std::find(names.begin(), names.end(), Json(std::string(name))) == names.end()) continue;
    trust = Json::parse(role.trust.json, nullptr, /*allow_exceptions=*/false);
    XROLE_ASSIGN_OR_RETURN(std::vector<ObjectDocument> rewritten,
                           ParseObjectDocuments(Dump(document), "expanded trust of " + key));
    if (rewritten.size() != 1) {
      return Error(ErrorCode::kInternal, Quote(key) + ": expanded trust gave no single document");
    }
    out.push_back(std::move(rewritten.front()));
  }
  return out;
}

Result<std::shared_ptr<const Catalog>> BuildCatalog(const Catalog& base,
                                                    const std::vector<ObjectDocument>& changes,
                                                    const std::vector<std::string>& deletions) {
  std::map<std::string, ObjectDocument> documents = base.documents;
  std::map<std::string, const ObjectDocument*> changed;
  for (const ObjectDocument& change : changes) {
    const std::string key = KeyOf(change.kind, change.name);
    auto [it, inserted] = changed.emplace(key, &change);
    if (!inserted) {
      return Error(ErrorCode::kInvalidArgument, "duplicate document " + Quote(key) +
                                                    ": defined at " + it->second->source +
                                                    " and at " + change.source);
    }
    documents[key] = change;
  }
  for (const std::string& deletion : deletions) {
    const std::size_t slash = deletion.find('/');
    if (slash == std::string::npos || !KindFromName(std::string_view(deletion).substr(0, slash))) {
      return Error(ErrorCode::kInvalidArgument,
                   "invalid deletion " + Quote(deletion) + ": expected `Kind/name`");
    }
    if (changed.count(deletion) > 0) {
      return Error(ErrorCode::kInvalidArgument, Quote(deletion) + " is both changed (at " +
                                                    changed[deletion]->source + ") and deleted");
    }
    if (documents.erase(deletion) == 0) {
      return Error(ErrorCode::kNotFound, "cannot delete " + Quote(deletion) + ": no such object");
    }
  }

  // Every document is read again from its canonical text, in dependency order, so the typed
  // objects always agree with the stored documents.
  References refs;
  for (const auto& [key, document] : documents) {
    switch (document.kind) {
      case ObjectKind::kHuman:
        refs.humans.insert(document.name);
        break;
      case ObjectKind::kWorkflow:
        refs.workflows.insert(document.name);
        break;
      case ObjectKind::kExecutionRole:
        refs.roles.insert(document.name);
        break;
      case ObjectKind::kAgent:
      case ObjectKind::kGuardrail:
      case ObjectKind::kManagedPolicy:
        break;
    }
  }
  auto catalog = std::make_shared<Catalog>();
  static constexpr std::array<ObjectKind, 6> kOrder = {
      ObjectKind::kHuman,    ObjectKind::kAgent,     ObjectKind::kExecutionRole,
      ObjectKind::kWorkflow, ObjectKind::kGuardrail, ObjectKind::kManagedPolicy};
  for (ObjectKind kind : kOrder) {
    for (auto& [key, document] : documents) {
      if (document.kind != kind) continue;
      const std::string source = document.source.empty() ? "catalog" : document.source;
      const std::string context = source + ": " + key;
      Result<std::unique_ptr<json::Value>> parsed = json::Parse(document.canonical_json);
      if (!parsed) return parsed.error().WithContext(context + ": stored document");
      const Node root = FromJson(**parsed, /*located=*/false);
      XROLE_ASSIGN_OR_RETURN(Decoded decoded, DecodeDocument(root, &refs, "", source));
      if (decoded.kind != document.kind || decoded.name != document.name) {
        return Error(ErrorCode::kInvalidArgument,
                     context + ": the document's text is " + KeyOf(decoded.kind, decoded.name));
      }
      const std::string canonical = Dump(decoded.canonical);
      if (canonical != document.canonical_json) {
        return Error(ErrorCode::kInvalidArgument, context + ": document is not in canonical form");
      }
      const std::string hash = crypto::Sha256Hex(canonical);
      if (!document.hash.empty() && document.hash != hash) {
        return Error(ErrorCode::kInvalidArgument,
                     context + ": document hash does not match its text");
      }
      document.hash = hash;
      SetHash(decoded.object, hash);
      switch (kind) {
        case ObjectKind::kHuman:
          catalog->humans.emplace(document.name, std::get<Human>(std::move(decoded.object)));
          break;
        case ObjectKind::kAgent: {
          const Agent& agent =
              catalog->agents.emplace(document.name, std::get<Agent>(std::move(decoded.object)))
                  .first->second;
          refs.agents.emplace(document.name, agent);
          break;
        }
        case ObjectKind::kExecutionRole:
          catalog->roles.emplace(document.name, std::get<ExecutionRole>(std::move(decoded.object)));
          break;
        case ObjectKind::kWorkflow:
          catalog->workflows.emplace(document.name, std::get<Workflow>(std::move(decoded.object)));
          break;
        case ObjectKind::kGuardrail:
          catalog->guardrails.emplace(document.name,
                                      std::get<Guardrail>(std::move(decoded.object)));
          break;
        case ObjectKind::kManagedPolicy:
          catalog->managed_policies.emplace(document.name,
                                            std::get<ManagedPolicy>(std::move(decoded.object)));
          break;
      }
    }
  }
  catalog->documents = std::move(documents);
  return std::shared_ptr<const Catalog>(std::move(catalog));
}

Result<std::int64_t> ParseDuration(std::string_view text) {
  auto fail = [&](std::string_view why) -> Error {
    return Error(ErrorCode::kInvalidArgument,
                 "invalid duration " + Quote(text) + ": " + std::string(why));
  };
  if (text.empty()) return fail("expected seconds or a duration such as `15m` or `1h30m`");
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t i = 0;
  int last_unit = 4;  // units must come in the order h, m, s, each at most once
  while (i < text.size()) {
    std::int64_t value = 0;
    const std::size_t digits_start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      const std::int64_t digit = text[i] - '0';
      if (value > (kMax - digit) / 10) return fail("too large");
      value = value * 10 + digit;
      ++i;
    }
    if (i == digits_start) return fail("expected a number before each unit (`h`, `m`, `s`)");
    std::int64_t multiplier = 1;
    int unit = 0;
    if (i == text.size()) {
      if (digits_start != 0)
        return fail("a unit (`h`, `m` or `s`) is missing after the last number");
      return value;  // a bare count of seconds
    }
    switch (text[i]) {
      case 'h':
        multiplier = 3600;
        unit = 3;
        break;
      case 'm':
        multiplier = 60;
        unit = 2;
        break;
      case 's':
        multiplier = 1;
        unit = 1;
        break;
      default:
        return fail("unknown unit " + Quote(text.substr(i, 1)) + ": expected `h`, `m` or `s`");
    }
    ++i;
    if (unit >= last_unit) return fail("units must appear once each, in the order `h`, `m`, `s`");
    last_unit = unit;
    if (value > kMax / multiplier || total > kMax - value * multiplier) return fail("too large");
    total += value * multiplier;
  }
  return total;
}

}  // namespace xrole::session
