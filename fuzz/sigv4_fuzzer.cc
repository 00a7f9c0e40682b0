// sigv4_fuzzer: SigV4 signing and verification (src/sts/sigv4.h). From the input it builds an
// HTTP request (service sts or s3, header-signed or presigned, optional x-amz-content-sha256),
// signs it with a fixed secret and checks that it verifies; then it changes one byte of one
// signed component (method, path, query, a signed header value or the body) and checks that
// the changed request no longer verifies. In the "same class" mode the new byte comes from the
// component's own alphabet, so the change always alters what was signed and must be rejected;
// in the "any byte" mode a changed request may only be accepted if it canonicalizes to the very
// same signed content with the same body (for instance "%41" for "A" in a query). Finally the
// rest of the input is tried as an Authorization header and as a query string: parsing must
// not crash and nothing unsigned may verify.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/strings.h"
#include "sts/sigv4.h"

namespace {

using xrole::sts::HttpHeaderField;
using xrole::sts::SignedRequestView;
using xrole::sts::SigV4Auth;

constexpr std::string_view kSecret = "fuzz-secret/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::int64_t kBaseTime = 1795880037;  // 20261128T153357Z

struct Request {
  std::string method;
  std::string path;
  std::string query;
  std::vector<HttpHeaderField> headers;
  std::string body;
  SignedRequestView view() const { return {method, path, query, headers, body}; }
};

char AlnumFrom(std::uint8_t byte) { return kAlnum[byte % kAlnum.size()]; }

std::string Token(FuzzedDataProvider& fdp, std::size_t max_length, std::size_t min_length) {
  std::string raw = fdp.ConsumeRandomLengthString(max_length);
  std::string out;
  for (char c : raw) out.push_back(AlnumFrom(static_cast<std::uint8_t>(c)));
  while (out.size() < min_length) out.push_back('a');
  return out;
}

// "/" followed by alphanumeric segments separated by single slashes (no dot segments).
std::string SafePath(FuzzedDataProvider& fdp) {
  std::string raw = fdp.ConsumeRandomLengthString(40);
  std::string path = "/";
  for (char c : raw) {
    const auto byte = static_cast<std::uint8_t>(c);
    if (byte % 8 == 0) {
      if (path.back() != '/') path.push_back('/');
    } else {
      path.push_back(AlnumFrom(byte));
    }
  }
  return path;
}

bool Verifies(const Request& request, std::int64_t now,
              const xrole::sts::SigV4VerifyOptions& options) {
  auto auth = xrole::sts::ParseSigV4(request.view());
  if (!auth.ok()) return false;
  return xrole::sts::VerifySigV4(request.view(), *auth, kSecret, now, options).ok();
}

std::string CanonicalOf(const Request& request) {
  auto auth = xrole::sts::ParseSigV4(request.view());
  if (!auth.ok()) return "";
  auto computed = xrole::sts::ComputeSigV4(request.view(), *auth, kSecret);
  return computed.ok() ? computed->canonical_request : "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const bool s3 = fdp.ConsumeBool();
  const bool presigned = fdp.ConsumeBool();
  const bool content_sha_header = fdp.ConsumeBool();
  static constexpr const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "HEAD"};
  const std::int64_t request_time =
      kBaseTime + fdp.ConsumeIntegralInRange<std::int64_t>(0, 1 << 20);
  const std::string amz_date = xrole::sts::FormatAmzDate(request_time);

  Request request;
  request.method = kMethods[fdp.ConsumeIntegralInRange<int>(0, 4)];
  request.path = SafePath(fdp);
  const int query_params = fdp.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < query_params; ++i) {
    if (!request.query.empty()) request.query += '&';
    request.query += Token(fdp, 8, 1) + "=" + Token(fdp, 8, 0);
  }
  request.headers.emplace_back("Host", "h" + Token(fdp, 12, 0) + ":8600");
  const int custom_headers = fdp.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < custom_headers; ++i) {
    request.headers.emplace_back("X-Fuzz-" + std::to_string(i), Token(fdp, 16, 1));
  }
  request.body = fdp.ConsumeRandomLengthString(256);
  if (content_sha_header) {
    request.headers.emplace_back("X-Amz-Content-SHA256", xrole::crypto::Sha256Hex(request.body));
  }

  SigV4Auth auth;
  auth.access_key_id = "AKIAFUZZ";
  auth.scope_date = amz_date.substr(0, 8);
  auth.region = "us-east-1";
  auth.service = s3 ? "s3" : "sts";
  auth.amz_date = amz_date;
  auth.presigned = presigned;
  for (const auto& field : request.headers) {
    std::string name;
    for (char c : field.first) name.push_back(xrole::AsciiLower(c));
    auth.signed_headers.push_back(name);
  }
  if (!presigned) {
    request.headers.emplace_back("X-Amz-Date", amz_date);
    auth.signed_headers.emplace_back("x-amz-date");
  }
  std::sort(auth.signed_headers.begin(), auth.signed_headers.end());
  std::string signed_list;
  for (const auto& name : auth.signed_headers) {
    signed_list += (signed_list.empty() ? "" : "%3B") + name;
  }
  if (presigned) {
    if (!request.query.empty()) request.query += '&';
    request.query += "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAFUZZ%2F" +
                     auth.scope_date + "%2Fus-east-1%2F" + auth.service +
                     "%2Faws4_request&X-Amz-Date=" + amz_date +
                     "&X-Amz-Expires=600&X-Amz-SignedHeaders=" + signed_list;
  }
  auto computed = xrole::sts::ComputeSigV4(request.view(), auth, kSecret);
  if (!computed.ok()) std::abort();  // well-formed by construction
  if (presigned) {
    request.query += "&X-Amz-Signature=" + computed->signature;
  } else {
    auth.signature = computed->signature;
    request.headers.emplace_back("Authorization", xrole::sts::BuildAuthorizationHeader(auth));
  }

  xrole::sts::SigV4VerifyOptions options;
  // An s3 presigned URL without x-amz-content-sha256 leaves the body unsigned by design.
  const bool body_unsigned = s3 && presigned && !content_sha_header;
  options.allow_unsigned_payload = body_unsigned;
  const std::int64_t now = request_time + fdp.ConsumeIntegralInRange<std::int64_t>(-300, 300);
  if (!Verifies(request, now, options)) std::abort();  // a genuine signature must verify

  // Change one byte of one signed component.
  const std::size_t header_count = request.headers.size() - (presigned ? 0 : 1);  // not authz
  const std::size_t component = fdp.ConsumeIntegralInRange<std::size_t>(0, 3 + header_count);
  const bool same_class = fdp.ConsumeBool();
  const auto position = fdp.ConsumeIntegral<std::uint16_t>();
  const auto byte = fdp.ConsumeIntegral<std::uint8_t>();
  Request changed = request;
  std::string* target = nullptr;
  if (component == 0) {
    target = &changed.method;
  } else if (component == 1) {
    target = &changed.path;
  } else if (component == 2) {
    target = &changed.query;
  } else if (component == 3) {
    target = body_unsigned ? nullptr : &changed.body;
  } else {
    target = &changed.headers[component - 4].second;
  }
  if (target != nullptr && !target->empty()) {
    const std::size_t index = position % target->size();
    char& at = (*target)[index];
    char replacement = same_class ? AlnumFrom(byte) : static_cast<char>(byte);
    if (replacement == at) {
      replacement = same_class ? AlnumFrom(static_cast<std::uint8_t>(byte + 1))
                               : static_cast<char>(byte ^ 0x01);
    }
    // Inside a percent-escape of the query, "%2F" and "%2f" are the same byte: not a change.
    const bool in_escape = component == 2 && ((index >= 1 && (*target)[index - 1] == '%') ||
                                              (index >= 2 && (*target)[index - 2] == '%'));
    const bool in_class =
        !in_escape && (kAlnum.find(at) != std::string_view::npos || at == '/' || at == '=' ||
                       at == '&' || at == ':' || component == 0 || component == 3);
    at = replacement;
    if (Verifies(changed, now, options)) {
      if (same_class && in_class) std::abort();  // a real change was accepted
      // Any other accepted change must leave the signed content and the body as they were.
      if (CanonicalOf(changed) != CanonicalOf(request) || changed.body != request.body) {
        std::abort();
      }
    }
  }

  // The rest of the input as an Authorization header and as a query string.
  const std::string rest = fdp.ConsumeRemainingBytesAsString();
  if (!presigned && rest != request.headers.back().second) {
    Request forged = request;
    forged.headers.back().second = rest;
    if (Verifies(forged, now, options)) std::abort();
  }
  if (rest != request.query) {
    Request forged = request;
    forged.query = rest;
    if (!presigned) forged.headers.pop_back();  // no Authorization: the query must authenticate
    if (Verifies(forged, now, options)) std::abort();
  }
  return 0;
}
