#include "cli/commands/client.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "session/objects.h"

namespace xrole::cli {
namespace {

using nlohmann::json;

constexpr const char* kDefaultServer = "http://127.0.0.1:8600";
constexpr const char* kDefaultDataDir = "xrole-data";

std::string FromEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string Trim(std::string text) {
  const char* space = " \t\r\n";
  std::size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  std::size_t last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

}  // namespace

Client::Client(const ClientOptions& options) {
  server_ = !options.server.empty() ? options.server : FromEnv("XROLE_SERVER");
  if (server_.empty()) server_ = kDefaultServer;
  while (server_.size() > 1 && server_.back() == '/') server_.pop_back();
  explicit_token_ = !options.token.empty() ? options.token : FromEnv("XROLE_TOKEN");
  data_dir_ = !options.data_dir.empty() ? options.data_dir : FromEnv("XROLE_DATA");
  if (data_dir_.empty()) data_dir_ = kDefaultDataDir;
  json_output_ = options.output == "json";
}

Reply Client::Call(const std::string& method, const std::string& target, const std::string& body,
                   bool authenticate, const std::string& content_type) {
  Reply reply;
  std::string token;
  if (authenticate) {
    token = explicit_token_;
    if (token.empty()) {
      std::string path = data_dir_ + "/admin.token";
      std::ifstream in(path);
      if (in) {
        std::stringstream text;
        text << in.rdbuf();
        token = Trim(text.str());
      }
      if (token.empty()) {
        reply.error =
            "no credential: give --token or set XROLE_TOKEN (or run where the admin "
            "token is readable: cannot read `" +
            path + "`; set --data or XROLE_DATA)";
        return reply;
      }
    }
  }
  auto sent = SendHttpRequest(server_, method, target, token, body, content_type);
  if (!sent.ok()) {
    reply.error = sent.error().message();
    return reply;
  }
  reply.status = sent->status;
  reply.body = std::move(sent->body);
  return reply;
}

int Client::Report(const Reply& reply) const {
  if (!reply.error.empty()) {
    std::fprintf(stderr, "xrole: %s\n", reply.error.c_str());
    return kExitError;
  }
  json body = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  const json* error = nullptr;
  if (body.is_object()) {
    auto it = body.find("error");
    if (it != body.end() && it->is_object()) error = &*it;
  }
  if (error == nullptr) {
    std::string text = reply.body.substr(0, reply.body.find('\n'));
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    std::fprintf(stderr, "xrole: HTTP %d from %s%s%s\n", reply.status, server_.c_str(),
                 text.empty() ? "" : ": ", text.c_str());
  } else {
    std::string line = "xrole: " + error->value("code", std::string("error")) + ": " +
                       error->value("message", std::string());
    std::vector<std::string> where;
    if (error->contains("path") && (*error)["path"].is_string()) {
      where.push_back("path " + (*error)["path"].get<std::string>());
    }
    if (error->contains("line") && (*error)["line"].is_number_integer()) {
      where.push_back("line " + std::to_string((*error)["line"].get<int>()));
    }
    if (error->contains("column") && (*error)["column"].is_number_integer()) {
      where.push_back("column " + std::to_string((*error)["column"].get<int>()));
    }
    if (!where.empty()) {
      line += " (";
      for (std::size_t i = 0; i < where.size(); ++i) line += (i ? ", " : "") + where[i];
      line += ")";
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return reply.status >= 500 || reply.status < 400 ? kExitError : kExitRefused;
}

std::string DescribeError(const Error& error) {
  std::vector<std::string> where;
  if (!error.path().empty()) where.push_back("path " + error.path());
  if (error.location().known()) {
    where.push_back("line " + std::to_string(error.location().line));
    where.push_back("column " + std::to_string(error.location().column));
  }
  std::string text = error.message();
  for (std::size_t i = 0; i < where.size(); ++i) text += (i ? ", " : " (") + where[i];
  return where.empty() ? text : text + ")";
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "xrole: %s\n", message.c_str());
  return kExitError;
}

Result<std::map<std::string, std::string>> ParseKeyValues(const std::vector<std::string>& items,
                                                          std::string_view flag) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   std::string(flag) + " takes KEY=VALUE, got `" + item + "`");
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

Result<std::int64_t> ParseDurationFlag(const std::string& text, std::string_view flag) {
  if (text.empty()) return std::int64_t{0};
  auto seconds = session::ParseDuration(text);
  if (!seconds.ok()) {
    return Error(ErrorCode::kInvalidArgument, std::string(flag) + ": " + seconds.error().message());
  }
  return *seconds;
}

Result<std::string> ReadFileText(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read `" + path + "`");
  text << in.rdbuf();
  return text.str();
}

namespace {

// The files one -f argument names (see ReadObjectDocuments).
Result<std::vector<std::string>> ObjectFiles(const std::string& path) {
  std::error_code ec;
  if (path == "-" || !std::filesystem::is_directory(path, ec)) {
    return std::vector<std::string>{path};
  }
  std::vector<std::string> files;
  std::filesystem::directory_iterator it(path, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string ext = it->path().extension().string();
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
      files.push_back(it->path().string());
    }
  }
  if (ec) return Error(ErrorCode::kNotFound, "cannot list `" + path + "`: " + ec.message());
  if (files.empty()) {
    return Error(ErrorCode::kNotFound, "`" + path + "` holds no .yaml, .yml or .json files");
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Result<std::vector<session::ObjectDocument>> ReadObjectDocuments(
    const std::vector<std::string>& paths) {
  std::vector<session::ObjectDocument> documents;
  for (const std::string& path : paths) {
    XROLE_ASSIGN_OR_RETURN(std::vector<std::string> files, ObjectFiles(path));
    for (const std::string& file : files) {
      XROLE_ASSIGN_OR_RETURN(std::string text, ReadFileText(file));
      XROLE_ASSIGN_OR_RETURN(auto parsed,
                             session::ParseObjectDocuments(text, file == "-" ? "<stdin>" : file));
      documents.insert(documents.end(), std::make_move_iterator(parsed.begin()),
                       std::make_move_iterator(parsed.end()));
    }
  }
  return documents;
}

std::string FormatSeconds(std::int64_t seconds) {
  if (seconds <= 0) return std::to_string(seconds) + "s";
  std::string out;
  std::int64_t hours = seconds / 3600, minutes = seconds % 3600 / 60, rest = seconds % 60;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (rest) out += std::to_string(rest) + "s";
  return out;
}

std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string ShellQuote(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("-_.:/+=@%,").find(c) != std::string_view::npos)) {
      plain = false;
    }
  }
  if (plain) return std::string(value);
  std::string out = "'";
  for (char c : value) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string JsonText(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace xrole::cli
