#include "store/store.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>

namespace xrole::store {
namespace {

std::string Quoted(std::string_view text) { return "`" + std::string(text) + "`"; }

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Splits "PATH?sync=full&audit=table" into PATH and options.
Result<std::string> ParseSqliteUrl(std::string_view url, std::string_view rest,
                                   SqliteOptions& options) {
  std::size_t question = rest.find('?');
  std::string path(rest.substr(0, question));
  if (path.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "store url " + Quoted(url) + " names no database file");
  }
  if (question == std::string_view::npos) return path;
  std::string_view query = rest.substr(question + 1);
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param == "sync=full") {
      options.full_sync = true;
    } else if (param == "sync=normal") {
      options.full_sync = false;
    } else if (param == "audit=segments") {
      options.audit_segments = true;
    } else if (param == "audit=table") {
      options.audit_segments = false;
    } else {
      return Error(ErrorCode::kInvalidArgument,
                   "store url " + Quoted(url) + ": unknown option " + Quoted(param) +
                       " (known: `sync=normal`, `sync=full`, `audit=segments`, `audit=table`)");
    }
  }
  return path;
}

}  // namespace

Status ForEachAuditRow(Store& store, std::int64_t after_seq, std::size_t page_rows,
                       const std::function<void(AuditRow row)>& each) {
  page_rows = std::max<std::size_t>(page_rows, 1);
  // Each page after the first is read from just before the last seq handed out, so that it
  // starts with the copies of that seq the previous page ended with (`repeated` of them, not
  // handed out again) and then any further copy.
  std::int64_t after = after_seq;
  std::int64_t repeated_seq = 0;
  std::size_t repeated = 0;
  while (true) {
    const std::size_t wanted = page_rows + repeated;
    XROLE_ASSIGN_OR_RETURN(std::vector<AuditRow> page, store.ReadAudit(after, wanted));
    std::size_t skip = 0;
    while (skip < repeated && skip < page.size() && page[skip].seq == repeated_seq) ++skip;
    const bool last_page = page.size() < wanted;
    if (!last_page) {
      repeated_seq = page.back().seq;
      repeated = 0;
      for (auto row = page.rbegin(); row != page.rend() && row->seq == repeated_seq; ++row) {
        ++repeated;
      }
      after = repeated_seq - 1;  // cannot overflow: repeated_seq > after >= INT64_MIN
    }
    for (std::size_t i = skip; i < page.size(); ++i) each(std::move(page[i]));
    if (last_page) return OkStatus();
  }
}

std::string_view TableName(Table table) {
  switch (table) {
    case Table::kObjects:
      return "objects";
    case Table::kRuns:
      return "runs";
    case Table::kSessions:
      return "sessions";
    case Table::kApprovals:
      return "approvals";
    case Table::kAccessKeys:
      return "access_keys";
    case Table::kSigningKeys:
      return "signing_keys";
    case Table::kMeta:
      return "meta";
  }
  return "unknown";
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  std::string_view view(url);
  if (view.empty()) return Error(ErrorCode::kInvalidArgument, "empty store url");
  if (StartsWith(view, "postgres://") || StartsWith(view, "postgresql://")) {
    return Error(ErrorCode::kUnavailable, "postgresql store not built yet");
  }
  std::string_view rest = view;
  if (StartsWith(view, "sqlite:")) {
    rest = view.substr(std::string_view("sqlite:").size());
  } else if (std::size_t scheme = view.find("://"); scheme != std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "unsupported store url " + Quoted(url) +
                     " (expected `sqlite:PATH`, a file path or `postgres://...`)");
  }
  SqliteOptions options;
  XROLE_ASSIGN_OR_RETURN(std::string path, ParseSqliteUrl(url, rest, options));
  return OpenSqlite(path, options);
}

}  // namespace xrole::store
