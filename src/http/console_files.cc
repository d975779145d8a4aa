#include "http/console_files.h"

#include <string>

#include "http/error_response.h"

namespace tokend::http {
namespace {

using beast_http::field;
using beast_http::status;

// The console runs only its own files: no inline script or style, no other
// origin, never framed.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

Response FileResponse(const ConsoleFile& file) {
  Response res{status::ok, 11};
  res.set(field::content_type, ConsoleContentType(file.name));
  res.body() = std::string(file.body);
  return res;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsConsolePath(std::string_view path) {
  constexpr std::string_view kConsole = "/console";
  return path.starts_with(kConsole) &&
         (path.size() == kConsole.size() || path[kConsole.size()] == '/');
}

void SetConsoleHeaders(Response& res) {
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  // Revalidated on every load: a new tokend serves its own console at once.
  res.set(field::cache_control, "no-cache");
  // Every console answer names its charset, as its files do; the API's JSON
  // answers elsewhere keep the plain type their clients already see.
  if (res[field::content_type] == "application/json") {
    res.set(field::content_type, "application/json; charset=utf-8");
  }
}

const ConsoleFile* FindConsoleFile(std::string_view name) {
  for (const ConsoleFile& file : ConsoleFiles()) {
    if (file.name == name) return &file;
  }
  return nullptr;
}

std::string_view ConsoleContentType(std::string_view name) {
  if (EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (EndsWith(name, ".svg")) return "image/svg+xml; charset=utf-8";
  if (EndsWith(name, ".png")) return "image/png";
  return "application/octet-stream";
}

Step ConsoleRedirect(const HandlerEnv& /*env*/, Exchange& /*ex*/) {
  Response res{status::permanent_redirect, 11};
  res.set(field::location, "/console/");
  res.set(field::content_type, "text/plain; charset=utf-8");
  res.body() = "The console is at /console/.\n";
  return res;
}

Step ConsoleIndex(const HandlerEnv& /*env*/, Exchange& /*ex*/) {
  const ConsoleFile* index = FindConsoleFile("index.html");
  if (index == nullptr) {
    return ErrorResponse(core::ApiError::kRouteNotFound, "This build has no console.");
  }
  return FileResponse(*index);
}

Step ConsoleAsset(const HandlerEnv& /*env*/, Exchange& ex) {
  const ConsoleFile* file = FindConsoleFile(ex.id);
  if (file == nullptr) {
    return ErrorResponse(core::ApiError::kRouteNotFound, "The console has no file by this name.");
  }
  return FileResponse(*file);
}

}  // namespace tokend::http
