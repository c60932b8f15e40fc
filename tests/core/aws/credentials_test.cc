// The AWS credential providers against fake endpoints on 127.0.0.1 (ECS, IMDSv2, STS), shared files
// and the environment; the chain order; refresh before Expiration and keeping valid credentials
// when a refresh fails.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "core/aws/credentials.h"
#include "support/fake_cloudwatch.h"
#include "support/process.h"

using namespace firelane;
using namespace firelane::testsupport;

namespace {

// Sets (or unsets, with nullptr) environment variables for a scope, restoring them afterwards.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    // Every variable the chain reads starts unset, so the machine's own AWS setup cannot leak in.
    for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                             "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                             "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                             "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "FIRELANE_ECS_CREDENTIALS_HOST",
                             "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL_STS",
                             "HOME"})
      set(name, nullptr);
    set("AWS_EC2_METADATA_DISABLED", "true");  // never reach for 169.254.169.254 unless a test asks
    for (auto [k, v] : vars) set(k, v);
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) setenv(it->first.c_str(), it->second->c_str(), 1);
      else unsetenv(it->first.c_str());
    }
  }
  void set(const char* k, const char* v) {
    const char* old = std::getenv(k);
    saved_.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
    if (v) setenv(k, v, 1);
    else unsetenv(k);
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

Result<aws::Credentials> fetchWith(aws::CredentialProvider& p) {
  bool available = false;
  return p.fetch(available);
}

template <typename F>
bool eventually(F cond, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a condition, bounded
  }
  return cond();
}

}  // namespace

TEST_CASE("aws credentials: URLs and ISO times parse", "[aws][credentials]") {
  auto u = aws::parseUrl("http://127.0.0.1:8080/v2/creds");
  REQUIRE(u.ok());
  CHECK_FALSE(u->tls);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 8080);
  CHECK(u->path == "/v2/creds");
  auto bare = aws::parseUrl("sts.us-east-1.amazonaws.com");
  REQUIRE(bare.ok());
  CHECK(bare->tls);
  CHECK(bare->port == 443);
  auto v6 = aws::parseUrl("http://[::1]:9000/x");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9000);
  CHECK_FALSE(aws::parseUrl("ftp://x").ok());
  CHECK_FALSE(aws::parseUrl("http://h:99999").ok());
  std::chrono::system_clock::time_point t;
  REQUIRE(aws::parseIsoTime("2026-12-05T06:00:00Z", t));
  CHECK(std::chrono::system_clock::to_time_t(t) == 1796450400);
  REQUIRE(aws::parseIsoTime("2026-12-05T06:00:00.123Z", t));
  CHECK_FALSE(aws::parseIsoTime("yesterday", t));
}

TEST_CASE("aws credentials: environment variables", "[aws][credentials]") {
  ScopedEnv env({{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}, {"AWS_SESSION_TOKEN", "tok"}});
  auto p = aws::makeEnvironmentProvider();
  auto c = fetchWith(*p);
  REQUIRE(c.ok());
  CHECK(c->accessKeyId == "AKIDENV");
  CHECK(c->secretAccessKey == "envsecret");
  CHECK(c->sessionToken == "tok");
  CHECK(c->provider == "environment");
}

TEST_CASE("aws credentials: shared files with profile", "[aws][credentials]") {
  TempDir dir;
  std::string creds = dir.path() + "/credentials", config = dir.path() + "/config";
  std::ofstream(creds) << "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n"
                          "[prod]\n# comment\naws_access_key_id=AKIDPROD\naws_secret_access_key=s2\naws_session_token=t2\n";
  std::ofstream(config) << "[profile cfgonly]\naws_access_key_id = AKIDCFG\naws_secret_access_key = s3\n";
  ScopedEnv env({{"AWS_SHARED_CREDENTIALS_FILE", creds.c_str()}, {"AWS_CONFIG_FILE", config.c_str()}});
  auto def = fetchWith(*aws::makeProfileProvider(""));
  REQUIRE(def.ok());
  CHECK(def->accessKeyId == "AKIDDEFAULT");
  auto prod = fetchWith(*aws::makeProfileProvider("prod"));
  REQUIRE(prod.ok());
  CHECK(prod->accessKeyId == "AKIDPROD");
  CHECK(prod->sessionToken == "t2");
  CHECK(prod->provider == "profile prod");
  auto cfg = fetchWith(*aws::makeProfileProvider("cfgonly"));
  REQUIRE(cfg.ok());
  CHECK(cfg->accessKeyId == "AKIDCFG");
  auto missing = fetchWith(*aws::makeProfileProvider("nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.message().find("s1") == std::string::npos);
  env.set("AWS_PROFILE", "prod");
  auto viaEnv = fetchWith(*aws::makeProfileProvider(""));
  REQUIRE(viaEnv.ok());
  CHECK(viaEnv->accessKeyId == "AKIDPROD");
}

TEST_CASE("aws credentials: ECS relative and full URI with authorization token", "[aws][credentials]") {
  auto keys = std::make_shared<FakeKeyring>();
  FakeCredentialOptions o;
  o.ecsAuthorization = "Bearer abc";
  FakeCredentialEndpoint fake(keys, o);
  fake.start();
  std::string host = "127.0.0.1:" + std::to_string(fake.port());
  {
    // Relative URI: the token is not sent, so a server requiring it refuses.
    ScopedEnv env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-role"},
                   {"FIRELANE_ECS_CREDENTIALS_HOST", host.c_str()}});
    auto c = fetchWith(*aws::makeEcsProvider(2));
    REQUIRE_FALSE(c.ok());
    CHECK(fake.count("denied") == 1);
  }
  {
    std::string full = fake.url() + "/v2/credentials/task-role";
    ScopedEnv env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", full.c_str()}, {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer abc"}});
    auto c = fetchWith(*aws::makeEcsProvider(2));
    REQUIRE(c.ok());
    CHECK(c->accessKeyId.rfind("ASIAECS", 0) == 0);
    CHECK_FALSE(c->sessionToken.empty());
    CHECK(c->expiration > std::chrono::system_clock::now());
    CHECK(c->provider == "ecs");
  }
  {
    TempDir dir;
    std::string tokenFile = dir.path() + "/token";
    std::ofstream(tokenFile) << "Bearer abc\n";
    std::string full = fake.url() + "/v2/credentials/task-role";
    ScopedEnv env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", full.c_str()},
                   {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile.c_str()}});
    CHECK(fetchWith(*aws::makeEcsProvider(2)).ok());
  }
  {
    // Plain HTTP to anything but loopback / the ECS agent is refused before any request.
    ScopedEnv env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds"}});
    auto c = fetchWith(*aws::makeEcsProvider(2));
    REQUIRE_FALSE(c.ok());
    CHECK(c.message().find("loopback") != std::string::npos);
  }
  CHECK(fake.count("ecs") == 2);
}

TEST_CASE("aws credentials: EC2 IMDSv2 token then role then credentials", "[aws][credentials]") {
  auto keys = std::make_shared<FakeKeyring>();
  FakeCredentialEndpoint fake(keys);
  fake.start();
  ScopedEnv env({});
  env.set("AWS_EC2_METADATA_DISABLED", nullptr);
  env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake.url().c_str());
  auto c = fetchWith(*aws::makeImdsProvider(2));
  REQUIRE(c.ok());
  CHECK(c->accessKeyId.rfind("ASIAIMDS", 0) == 0);
  CHECK(fake.count("imds-token") == 1);
  CHECK(fake.count("imds-role") == 1);
  CHECK(fake.count("imds-creds") == 1);
  CHECK(fake.count("denied") == 0);
}

TEST_CASE("aws credentials: the chain tries env then files then web identity then ECS then IMDS",
          "[aws][credentials]") {
  auto keys = std::make_shared<FakeKeyring>();
  FakeCredentialOptions o;
  o.webIdentityToken = "jwt-token";
  FakeCredentialEndpoint fake(keys, o);
  fake.start();
  TempDir dir;
  std::string tokenFile = dir.path() + "/jwt";
  std::ofstream(tokenFile) << "jwt-token";
  std::string host = "127.0.0.1:" + std::to_string(fake.port());
  aws::ChainOptions opts;
  opts.region = "us-east-1";
  opts.timeout = 2;
  {
    ScopedEnv env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-role"},
                   {"FIRELANE_ECS_CREDENTIALS_HOST", host.c_str()}});
    env.set("AWS_EC2_METADATA_DISABLED", nullptr);
    env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake.url().c_str());
    auto c = fetchWith(*aws::makeDefaultChain(opts));
    REQUIRE(c.ok());
    CHECK(c->provider == "ecs");  // before IMDS
    env.set("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile.c_str());
    env.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/firelane");
    env.set("AWS_ENDPOINT_URL_STS", fake.url().c_str());
    auto w = fetchWith(*aws::makeDefaultChain(opts));
    REQUIRE(w.ok());
    CHECK(w->provider == "web identity");
    CHECK(w->accessKeyId.rfind("ASIASTS", 0) == 0);
    CHECK(fake.count("sts:AssumeRoleWithWebIdentity") == 1);
    env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
    env.set("AWS_SECRET_ACCESS_KEY", "s");
    auto e = fetchWith(*aws::makeDefaultChain(opts));
    REQUIRE(e.ok());
    CHECK(e->provider == "environment");
  }
  {
    ScopedEnv env({});
    auto none = fetchWith(*aws::makeDefaultChain(opts));
    REQUIRE_FALSE(none.ok());
    CHECK(none.message().find("no AWS credentials") == 0);
  }
}

TEST_CASE("aws credentials: role_arn assumes the role with signed STS AssumeRole", "[aws][credentials]") {
  auto keys = std::make_shared<FakeKeyring>();
  keys->add("AKIDBASE", {"basesecret", "", std::chrono::system_clock::time_point::max()});
  FakeCredentialEndpoint fake(keys);
  fake.start();
  ScopedEnv env({{"AWS_ACCESS_KEY_ID", "AKIDBASE"}, {"AWS_SECRET_ACCESS_KEY", "basesecret"}});
  aws::ChainOptions opts;
  opts.region = "us-east-1";
  opts.roleArn = "arn:aws:iam::123456789012:role/firelane";
  opts.externalId = "ext-42";
  opts.stsEndpoint = fake.url();
  opts.timeout = 2;
  auto c = fetchWith(*aws::makeProvider(opts));
  REQUIRE(c.ok());
  CHECK(c->accessKeyId.rfind("ASIASTS", 0) == 0);
  CHECK(c->provider.find("environment") != std::string::npos);
  CHECK(fake.count("sts:AssumeRole") == 1);
  CHECK(fake.count("sts-external-id:ext-42") == 1);
  // A wrong base secret fails STS's signature check.
  ScopedEnv bad({{"AWS_ACCESS_KEY_ID", "AKIDBASE"}, {"AWS_SECRET_ACCESS_KEY", "wrong"}});
  auto refused = fetchWith(*aws::makeProvider(opts));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.message().find("InvalidSignatureException") != std::string::npos);
  CHECK(refused.message().find("wrong") == std::string::npos);
}

TEST_CASE("aws credentials: the source refreshes before Expiration and keeps valid keys on failure",
          "[aws][credentials]") {
  auto keys = std::make_shared<FakeKeyring>();
  FakeCredentialOptions o;
  o.lifetime = std::chrono::seconds(4);
  FakeCredentialEndpoint fake(keys, o);
  fake.start();
  std::string host = "127.0.0.1:" + std::to_string(fake.port());
  ScopedEnv env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/task-role"},
                 {"FIRELANE_ECS_CREDENTIALS_HOST", host.c_str()}});
  aws::CredentialSource source(aws::makeEcsProvider(2));
  CHECK(source.current() == nullptr);
  source.start();
  REQUIRE(eventually([&] { return source.current() != nullptr; }));
  std::string first = source.current()->accessKeyId;
  // Refreshed halfway through the 4 s lifetime: a new key well before the first expires.
  REQUIRE(eventually([&] { return source.current() && source.current()->accessKeyId != first; }));
  // The endpoint now fails: the current key stays in use while it is valid.
  fake.failNext(1000);
  size_t before = fake.count("ecs");
  REQUIRE(eventually([&] { return fake.count("ecs") >= before + 2; }));
  CHECK(source.current() != nullptr);
  CHECK_FALSE(source.lastError().empty());
}
