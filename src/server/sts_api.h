// sts_api.h: the STS-compatible endpoint of `xrole serve` (design.md §4.5, docs/sts.md). The
// STS Query API (version 2011-06-15) is served at the root path beside the JSON API: `POST /`
// with an application/x-www-form-urlencoded body, or `GET /?Action=...` with a presigned query,
// SigV4-signed, so that unmodified AWS CLIs and SDKs can call AssumeRole and GetCallerIdentity
// with `--endpoint-url` / `endpoint_url=`. Answers are STS's XML shapes (text/xml) with the
// request id in the body and in `x-amzn-RequestId`; errors are STS ErrorResponse documents
// with AWS's codes and statuses. Every call's outcome is audited.
#ifndef XROLE_SERVER_STS_API_H_
#define XROLE_SERVER_STS_API_H_

#include "server/http.h"
#include "session/broker.h"

namespace xrole::server {

// True for a call of the STS Query API: `POST /` with a form body, or `GET /` whose query
// names an Action. Every other request belongs to the JSON API.
bool IsStsRequest(const HttpRequest& request);

// Answers one STS call. Blocks until its audit record is durable: call it on a worker thread.
HttpResponse HandleStsRequest(session::Broker& broker, const HttpRequest& request);

}  // namespace xrole::server

#endif  // XROLE_SERVER_STS_API_H_
