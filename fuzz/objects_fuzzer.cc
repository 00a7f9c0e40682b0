// objects_fuzzer: roles as code from arbitrary text (YAML or JSON). ParseObjectDocuments and
// BuildCatalog must return a value or a located error, never crash, hang or leak; whatever
// parses must rebuild from its own canonical JSON to the same hashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "session/objects.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto documents = xrole::session::ParseObjectDocuments(text, "fuzz.yaml");
  if (!documents.ok()) return 0;
  auto catalog = xrole::session::BuildCatalog(xrole::session::Catalog{}, *documents);
  if (!catalog.ok()) return 0;
  // Round trip: the stored form (canonical JSON) parses back to the same documents.
  for (const auto& [key, document] : (*catalog)->documents) {
    auto again = xrole::session::ParseObjectDocuments(document.canonical_json, "stored");
    if (!again.ok() || again->size() != 1 || (*again)[0].hash != document.hash) std::abort();
  }
  return 0;
}
