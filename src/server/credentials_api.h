// credentials_api.h: the container-credentials endpoint of `xrole serve` (design.md §4.5,
// docs/sdk-credentials.md), what AWS SDKs call when AWS_CONTAINER_CREDENTIALS_FULL_URI points
// at it:
//
//   GET /v1/credentials/container?role=ROLE&runId=RUN[&sessionName=N][&durationSeconds=S]
//   Authorization: <AWS_CONTAINER_AUTHORIZATION_TOKEN, verbatim>
//   -> 200 {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn"}
//
// The SDK sends the token exactly as configured, so both "Bearer X" and a bare X are accepted,
// X being any credential of the JSON API (in practice an agent key "ACCESS_KEY_ID:SECRET").
// Each fetch is an assume with reuse (broker.h): the SDK's repeated fetches get the live
// session already issued for the same request, and a first session lasts an hour unless
// durationSeconds says otherwise. Errors are the JSON API's
// {"error": {"code", "message", "path"?}} with a non-200 status, which the SDK quotes.
#ifndef XROLE_SERVER_CREDENTIALS_API_H_
#define XROLE_SERVER_CREDENTIALS_API_H_

#include "server/http.h"
#include "session/broker.h"

namespace xrole::server {

// True for a request to /v1/credentials/container (any method; only GET is answered 200).
bool IsContainerCredentialsRequest(const HttpRequest& request);

// Answers one credential fetch. Blocks until its audit record is durable: call it on a worker
// thread.
HttpResponse HandleContainerCredentials(session::Broker& broker, const HttpRequest& request);

}  // namespace xrole::server

#endif  // XROLE_SERVER_CREDENTIALS_API_H_
