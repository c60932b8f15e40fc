// The AWS credential chain (environment, shared files, web identity, ECS container endpoint, EC2
// IMDSv2, plus STS AssumeRole on top) and CredentialSource, which keeps the current credentials
// fresh from a background thread so outputs only ever read a snapshot.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/aws/sigv4.h"
#include "core/common/status.h"
#include "core/http/http_client.h"

namespace firelane::aws {

// "http://127.0.0.1:8080/path" -> parts. https defaults to port 443, http to 80. A bare host
// ("sts.amazonaws.com") means https.
struct Url {
  bool tls = true;
  std::string host;
  uint16_t port = 443;
  std::string path = "/";
};
Result<Url> parseUrl(std::string_view text);

// One blocking request on a private loop (for background threads only, never a worker loop).
http::Response fetch(const Url& url, http::Request request, double timeoutSeconds);

// "2026-12-05T06:00:00Z" (also with fractional seconds or "+00:00") -> time point.
bool parseIsoTime(std::string_view text, std::chrono::system_clock::time_point& out);

// A provider's fetch is blocking and runs on CredentialSource's thread. Errors never hold secrets.
class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  virtual std::string name() const = 0;
  // Credentials, or why not. `available` is false when the provider does not apply at all (its
  // environment variables are not set), so the chain moves on quietly.
  virtual Result<Credentials> fetch(bool& available) = 0;
};
using CredentialProviderPtr = std::unique_ptr<CredentialProvider>;

// Where the environment points each provider; read from the process environment by default,
// settable by tests.
struct ChainOptions {
  std::string profile;       // `profile` option; else AWS_PROFILE; else "default"
  std::string region;        // for STS
  std::string stsEndpoint;   // `sts_endpoint`; else AWS_ENDPOINT_URL_STS; else https://sts.<region>.amazonaws.com
  std::string roleArn;       // `role_arn`: AssumeRole on top of the chain
  std::string externalId;
  std::string sessionName = "firelane";
  double timeout = 5;        // seconds per HTTP call (IMDS: 1 s connect)
};

// env -> profile -> web identity -> ECS -> IMDSv2, the first that answers wins and is asked again on
// refresh; when it fails the whole chain is tried again.
CredentialProviderPtr makeDefaultChain(const ChainOptions& options);
// The default chain, wrapped in AssumeRole when options.roleArn is set.
CredentialProviderPtr makeProvider(const ChainOptions& options);

// Individual providers (exposed for tests).
CredentialProviderPtr makeEnvironmentProvider();
CredentialProviderPtr makeProfileProvider(std::string profile);
CredentialProviderPtr makeWebIdentityProvider(const ChainOptions& options);
CredentialProviderPtr makeEcsProvider(double timeout);
CredentialProviderPtr makeImdsProvider(double timeout);
CredentialProviderPtr makeAssumeRoleProvider(CredentialProviderPtr base, const ChainOptions& options);

// The STS endpoint for these options.
std::string stsEndpoint(const ChainOptions& options);

// Keeps one provider's credentials fresh: fetches on start(), then again before Expiration (half the
// remaining lifetime, at most 5 minutes ahead); a failed refresh keeps the old credentials while they
// are valid and tries again soon. Thread-safe; shared by every worker of an output.
class CredentialSource {
 public:
  explicit CredentialSource(CredentialProviderPtr provider);
  ~CredentialSource();  // stops and joins the refresh thread
  CredentialSource(const CredentialSource&) = delete;
  CredentialSource& operator=(const CredentialSource&) = delete;

  // Starts the refresh thread (once; later calls do nothing).
  void start();
  // The current credentials while they are valid, else null.
  std::shared_ptr<const Credentials> current() const;
  // The last fetch error ("" after a success).
  std::string lastError() const;
  // Ask for a refresh now (e.g. after an ExpiredToken answer); at most once per second.
  void refreshSoon();
  uint64_t fetches() const { return fetches_.load(); }

 private:
  void run();

  CredentialProviderPtr provider_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Credentials> current_;
  std::string lastError_;
  bool stop_ = false;
  bool wake_ = false;
  bool started_ = false;
  std::chrono::steady_clock::time_point lastForced_{};
  std::atomic<uint64_t> fetches_{0};
  std::thread thread_;
};

}  // namespace firelane::aws
