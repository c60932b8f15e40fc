// Credential providers and the background refresher. Every network call here runs on the
// CredentialSource thread with its own short-lived loop, never on a worker loop.
#include "core/aws/credentials.h"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/codec/json_to_msgpack.h"
#include "core/common/log.h"
#include "core/record/record_accessor.h"

namespace firelane::aws {
namespace {

using Clock = std::chrono::system_clock;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string readFile(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string formEncode(std::string_view s) {
  std::string out;
  uriEncode(out, s, true);
  return out;
}

// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} (ECS and IMDS answers).
Result<Credentials> parseCredentialsJson(std::string_view body, const std::string& provider) {
  auto mp = codec::jsonToMsgpack(body);
  if (!mp) return Status::error(provider + ": the credentials answer is not JSON");
  record::Bytes rec(mp->data(), mp->size());
  auto str = [&](std::string_view key) {
    std::string_view v;
    if (!record::stringValue(record::findKey(rec, key), v)) return std::string();
    return std::string(v);
  };
  Credentials c;
  c.provider = provider;
  c.accessKeyId = str("AccessKeyId");
  c.secretAccessKey = str("SecretAccessKey");
  c.sessionToken = str("Token");
  std::string code = str("Code");
  if (!code.empty() && code != "Success") return Status::error(provider + ": answered Code " + code);
  if (c.empty()) return Status::error(provider + ": the answer has no AccessKeyId/SecretAccessKey");
  std::string exp = str("Expiration");
  if (!exp.empty() && !parseIsoTime(exp, c.expiration))
    return Status::error(provider + ": cannot parse Expiration '" + exp + "'");
  return c;
}

std::string xmlValue(std::string_view xml, std::string_view tag) {
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  auto a = xml.find(open);
  if (a == std::string_view::npos) return "";
  a += open.size();
  auto b = xml.find(close, a);
  if (b == std::string_view::npos) return "";
  return std::string(xml.substr(a, b - a));
}

// An STS answer (AssumeRole or AssumeRoleWithWebIdentity, query API, XML).
Result<Credentials> parseStsAnswer(const http::Response& r, const std::string& provider) {
  if (r.status == 0) return Status::error(provider + ": " + r.error);
  if (r.status != 200) {
    std::string code = xmlValue(r.body, "Code"), msg = xmlValue(r.body, "Message");
    return Status::error(provider + ": STS answered HTTP " + std::to_string(r.status) + " " + code + ": " + msg);
  }
  Credentials c;
  c.provider = provider;
  c.accessKeyId = xmlValue(r.body, "AccessKeyId");
  c.secretAccessKey = xmlValue(r.body, "SecretAccessKey");
  c.sessionToken = xmlValue(r.body, "SessionToken");
  std::string exp = xmlValue(r.body, "Expiration");
  if (c.empty()) return Status::error(provider + ": the STS answer has no credentials");
  if (!exp.empty() && !parseIsoTime(exp, c.expiration))
    return Status::error(provider + ": cannot parse Expiration '" + exp + "'");
  return c;
}

http::Request stsRequest(const Url& url, std::string body) {
  http::Request req;
  req.method = "POST";
  req.path = url.path.empty() ? "/" : url.path;
  req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"});
  req.body = std::move(body);
  return req;
}

// ---------------------------------------------------------------------------------------------

class EnvironmentProvider final : public CredentialProvider {
 public:
  std::string name() const override { return "environment"; }
  Result<Credentials> fetch(bool& available) override {
    Credentials c;
    c.provider = name();
    c.accessKeyId = env("AWS_ACCESS_KEY_ID");
    c.secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
    c.sessionToken = env("AWS_SESSION_TOKEN");
    available = !c.accessKeyId.empty() || !c.secretAccessKey.empty();
    if (c.empty()) return Status::error("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set");
    return c;
  }
};

class ProfileProvider final : public CredentialProvider {
 public:
  explicit ProfileProvider(std::string profile) : profile_(std::move(profile)) {}
  std::string name() const override { return "profile " + profileName(); }
  Result<Credentials> fetch(bool& available) override {
    std::string profile = profileName();
    std::string home = env("HOME");
    std::string credsFile = env("AWS_SHARED_CREDENTIALS_FILE");
    if (credsFile.empty() && !home.empty()) credsFile = home + "/.aws/credentials";
    std::string configFile = env("AWS_CONFIG_FILE");
    if (configFile.empty() && !home.empty()) configFile = home + "/.aws/config";
    available = false;
    Credentials c;
    c.provider = name();
    // The credentials file wins over the config file, key by key, as in the AWS CLI.
    for (const auto& [file, isConfig] : {std::pair{configFile, true}, std::pair{credsFile, false}}) {
      bool ok = false;
      std::string text = file.empty() ? std::string() : readFile(file, ok);
      if (!ok) continue;
      std::string want = isConfig && profile != "default" ? "profile " + profile : profile;
      bool inSection = false;
      std::istringstream lines(text);
      std::string line;
      while (std::getline(lines, line)) {
        std::string t = trim(line);
        if (t.empty() || t[0] == '#' || t[0] == ';') continue;
        if (t.front() == '[' && t.back() == ']') {
          inSection = trim(std::string_view(t).substr(1, t.size() - 2)) == want;
          available |= inSection;
          continue;
        }
        if (!inSection) continue;
        auto eq = t.find('=');
        if (eq == std::string::npos) continue;
        std::string key = trim(std::string_view(t).substr(0, eq));
        std::string value = trim(std::string_view(t).substr(eq + 1));
        if (key == "aws_access_key_id") c.accessKeyId = value;
        else if (key == "aws_secret_access_key") c.secretAccessKey = value;
        else if (key == "aws_session_token") c.sessionToken = value;
      }
    }
    if (c.empty()) return Status::error(name() + ": no aws_access_key_id/aws_secret_access_key in the shared files");
    return c;
  }

 private:
  std::string profileName() const {
    if (!profile_.empty()) return profile_;
    std::string p = env("AWS_PROFILE");
    return p.empty() ? "default" : p;
  }
  std::string profile_;
};

class WebIdentityProvider final : public CredentialProvider {
 public:
  explicit WebIdentityProvider(ChainOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "web identity"; }
  Result<Credentials> fetch(bool& available) override {
    std::string tokenFile = env("AWS_WEB_IDENTITY_TOKEN_FILE"), role = env("AWS_ROLE_ARN");
    available = !tokenFile.empty() && !role.empty();
    if (!available) return Status::error("web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not set");
    bool ok = false;
    std::string token = trim(readFile(tokenFile, ok));
    if (!ok || token.empty()) return Status::error("web identity: cannot read AWS_WEB_IDENTITY_TOKEN_FILE '" + tokenFile + "'");
    std::string session = env("AWS_ROLE_SESSION_NAME");
    if (session.empty()) session = o_.sessionName;
    auto url = parseUrl(stsEndpoint(o_));
    if (!url) return Status::error("web identity: " + url.message());
    std::string body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + formEncode(role) +
                       "&RoleSessionName=" + formEncode(session) + "&WebIdentityToken=" + formEncode(token);
    return parseStsAnswer(aws::fetch(*url, stsRequest(*url, std::move(body)), o_.timeout), name());
  }

 private:
  ChainOptions o_;
};

class EcsProvider final : public CredentialProvider {
 public:
  explicit EcsProvider(double timeout) : timeout_(timeout) {}
  std::string name() const override { return "ecs"; }
  Result<Credentials> fetch(bool& available) override {
    std::string rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    available = !rel.empty() || !full.empty();
    if (!available) return Status::error("ecs: AWS_CONTAINER_CREDENTIALS_*_URI not set");
    Url url;
    std::string auth;
    if (!rel.empty()) {
      std::string host = env("FIRELANE_ECS_CREDENTIALS_HOST");  // tests: 127.0.0.1:PORT
      auto u = parseUrl("http://" + (host.empty() ? std::string("169.254.170.2") : host) + rel);
      if (!u) return Status::error("ecs: " + u.message());
      url = *u;
    } else {
      auto u = parseUrl(full);
      if (!u) return Status::error("ecs: AWS_CONTAINER_CREDENTIALS_FULL_URI: " + u.message());
      url = *u;
      // As the AWS SDKs: plain HTTP only to loopback or the ECS/EKS agent addresses.
      if (!url.tls && url.host != "127.0.0.1" && url.host != "localhost" && url.host != "::1" &&
          url.host != "169.254.170.2" && url.host != "169.254.170.23")
        return Status::error("ecs: AWS_CONTAINER_CREDENTIALS_FULL_URI over http must be a loopback or ECS address");
      auth = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
      std::string file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
      if (!file.empty()) {
        bool ok = false;
        auth = trim(readFile(file, ok));
        if (!ok) return Status::error("ecs: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE '" + file + "'");
      }
    }
    http::Request req;
    req.method = "GET";
    req.path = url.path;
    if (!auth.empty()) req.headers.push_back({"Authorization", auth});
    http::Response r = aws::fetch(url, std::move(req), timeout_);
    if (r.status == 0) return Status::error("ecs: " + url.host + ": " + r.error);
    if (r.status != 200) return Status::error("ecs: " + url.host + " answered HTTP " + std::to_string(r.status));
    return parseCredentialsJson(r.body, name());
  }

 private:
  double timeout_;
};

class ImdsProvider final : public CredentialProvider {
 public:
  explicit ImdsProvider(double timeout) : timeout_(timeout) {}
  std::string name() const override { return "imds"; }
  Result<Credentials> fetch(bool& available) override {
    std::string disabled = env("AWS_EC2_METADATA_DISABLED");
    available = disabled != "true" && disabled != "TRUE";
    if (!available) return Status::error("imds: AWS_EC2_METADATA_DISABLED");
    std::string endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    auto url = parseUrl(endpoint.empty() ? "http://169.254.169.254" : endpoint);
    if (!url) return Status::error("imds: " + url.message());
    double timeout = std::min(timeout_, 1.0);  // the metadata service answers at once or not at all
    http::Request put;
    put.method = "PUT";
    put.path = "/latest/api/token";
    put.headers.push_back({"X-aws-ec2-metadata-token-ttl-seconds", "21600"});
    http::Response t = aws::fetch(*url, std::move(put), timeout);
    if (t.status != 200) {
      available = t.status != 0;  // nothing listening: not on EC2
      return Status::error("imds: token request failed: " + (t.status ? "HTTP " + std::to_string(t.status) : t.error));
    }
    std::string token = trim(t.body);
    auto get = [&](const std::string& path) {
      http::Request g;
      g.method = "GET";
      g.path = path;
      g.headers.push_back({"X-aws-ec2-metadata-token", token});
      return aws::fetch(*url, std::move(g), timeout);
    };
    const std::string base = "/latest/meta-data/iam/security-credentials/";
    http::Response roles = get(base);
    if (roles.status != 200)
      return Status::error("imds: no instance role (HTTP " + std::to_string(roles.status) + ")");
    std::string role = trim(roles.body.substr(0, roles.body.find('\n')));
    if (role.empty()) return Status::error("imds: no instance role");
    http::Response r = get(base + role);
    if (r.status != 200) return Status::error("imds: role credentials: HTTP " + std::to_string(r.status));
    return parseCredentialsJson(r.body, name());
  }

 private:
  double timeout_;
};

class ChainProvider final : public CredentialProvider {
 public:
  explicit ChainProvider(std::vector<CredentialProviderPtr> providers) : providers_(std::move(providers)) {}
  std::string name() const override { return "chain"; }
  Result<Credentials> fetch(bool& available) override {
    available = true;
    if (sticky_) {
      bool avail = false;
      auto r = sticky_->fetch(avail);
      if (r) return r;
      FL_WARN("[aws] credentials from %s failed: %s; trying the whole chain", sticky_->name().c_str(),
              r.message().c_str());
    }
    std::string errors;
    for (auto& p : providers_) {
      bool avail = false;
      auto r = p->fetch(avail);
      if (r) {
        if (sticky_ != p.get()) FL_INFO("[aws] using credentials from %s (key %s)", p->name().c_str(), r->accessKeyId.c_str());
        sticky_ = p.get();
        return r;
      }
      if (avail) errors += (errors.empty() ? "" : "; ") + r.message();
    }
    sticky_ = nullptr;
    return Status::error("no AWS credentials (tried environment, shared files, web identity, ecs, imds)" +
                         (errors.empty() ? std::string() : ": " + errors));
  }

 private:
  std::vector<CredentialProviderPtr> providers_;
  CredentialProvider* sticky_ = nullptr;
};

class AssumeRoleProvider final : public CredentialProvider {
 public:
  AssumeRoleProvider(CredentialProviderPtr base, ChainOptions o) : base_(std::move(base)), o_(std::move(o)) {}
  std::string name() const override { return "sts assume-role"; }
  Result<Credentials> fetch(bool& available) override {
    available = true;
    bool avail = false;
    auto base = base_->fetch(avail);
    if (!base) return Status::error("sts assume-role: base credentials: " + base.message());
    auto url = parseUrl(stsEndpoint(o_));
    if (!url) return Status::error("sts assume-role: " + url.message());
    std::string body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + formEncode(o_.roleArn) +
                       "&RoleSessionName=" + formEncode(o_.sessionName);
    if (!o_.externalId.empty()) body += "&ExternalId=" + formEncode(o_.externalId);
    http::Request req = stsRequest(*url, std::move(body));
    http::UpstreamOptions up;
    up.host = url->host;
    up.port = url->port;
    up.tls = url->tls;
    Signer signer;
    signer.sign(req, hostHeader(up), *base, SigningParams{o_.region.empty() ? "us-east-1" : o_.region, "sts"},
                Clock::now());
    auto r = parseStsAnswer(aws::fetch(*url, std::move(req), o_.timeout), name());
    if (r) r->provider = "sts assume-role " + o_.roleArn + " (base credentials from " + base->provider + ")";
    return r;
  }

 private:
  CredentialProviderPtr base_;
  ChainOptions o_;
};

}  // namespace

Result<Url> parseUrl(std::string_view text) {
  Url u;
  std::string_view rest = text;
  if (rest.substr(0, 7) == "http://") {
    u.tls = false;
    u.port = 80;
    rest.remove_prefix(7);
  } else if (rest.substr(0, 8) == "https://") {
    rest.remove_prefix(8);
  } else if (rest.find("://") != std::string_view::npos) {
    return Status::error("unsupported URL scheme in '" + std::string(text) + "'");
  }
  auto slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return Status::error("bad host in '" + std::string(text) + "'");
    u.host = std::string(hostport.substr(1, close - 1));
    hostport.remove_prefix(close + 1);  // ":port" or nothing
    if (!hostport.empty() && hostport.front() != ':') return Status::error("bad host in '" + std::string(text) + "'");
  } else {
    auto colon = hostport.rfind(':');
    u.host = std::string(hostport.substr(0, colon));
    hostport = colon == std::string_view::npos ? std::string_view() : hostport.substr(colon);
  }
  if (!hostport.empty()) {
    int port = 0;
    for (char c : hostport.substr(1)) {
      if (c < '0' || c > '9' || port > 65535) return Status::error("bad port in '" + std::string(text) + "'");
      port = port * 10 + (c - '0');
    }
    if (port <= 0 || port > 65535) return Status::error("bad port in '" + std::string(text) + "'");
    u.port = static_cast<uint16_t>(port);
  }
  if (u.host.empty()) return Status::error("no host in '" + std::string(text) + "'");
  return u;
}

http::Response fetch(const Url& url, http::Request request, double timeoutSeconds) {
  http::Response out;
  http::UpstreamOptions o;
  o.host = url.host;
  o.port = url.port;
  o.tls = url.tls;
  o.http2 = http::Http2Mode::Off;
  o.maxConnections = 1;
  o.connectTimeout = timeoutSeconds;
  o.responseTimeout = timeoutSeconds;
  o.maxResponseBody = 256 * 1024;
  std::shared_ptr<net::TlsContext> tls;
  if (o.tls) {
    auto t = http::Client::makeTlsContext(o);
    if (!t) {
      out.error = t.message();
      return out;
    }
    tls = *t;
  }
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) {
    out.error = "cannot create a loop";
    return out;
  }
  {
    http::Client client(&loop, o, tls);
    bool done = false, closed = false;
    client.send(std::move(request), [&](http::Response&& r) {
      out = std::move(r);
      done = true;
    });
    while (!done) uv_run(&loop, UV_RUN_ONCE);  // ends: the client times every request out
    client.close([&] { closed = true; });
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return out;
}

bool parseIsoTime(std::string_view text, std::chrono::system_clock::time_point& out) {
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return false;
  std::string_view rest(end);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  if (rest != "Z" && rest != "+00:00" && rest != "z" && !rest.empty()) return false;
  out = Clock::from_time_t(timegm(&tm));
  return true;
}

std::string stsEndpoint(const ChainOptions& o) {
  if (!o.stsEndpoint.empty()) return o.stsEndpoint;
  std::string e = env("AWS_ENDPOINT_URL_STS");
  if (!e.empty()) return e;
  return "https://sts." + (o.region.empty() ? std::string("us-east-1") : o.region) + ".amazonaws.com";
}

CredentialProviderPtr makeEnvironmentProvider() { return std::make_unique<EnvironmentProvider>(); }
CredentialProviderPtr makeProfileProvider(std::string profile) {
  return std::make_unique<ProfileProvider>(std::move(profile));
}
CredentialProviderPtr makeWebIdentityProvider(const ChainOptions& o) { return std::make_unique<WebIdentityProvider>(o); }
CredentialProviderPtr makeEcsProvider(double timeout) { return std::make_unique<EcsProvider>(timeout); }
CredentialProviderPtr makeImdsProvider(double timeout) { return std::make_unique<ImdsProvider>(timeout); }
CredentialProviderPtr makeAssumeRoleProvider(CredentialProviderPtr base, const ChainOptions& o) {
  return std::make_unique<AssumeRoleProvider>(std::move(base), o);
}

CredentialProviderPtr makeDefaultChain(const ChainOptions& o) {
  std::vector<CredentialProviderPtr> v;
  v.push_back(makeEnvironmentProvider());
  v.push_back(makeProfileProvider(o.profile));
  v.push_back(makeWebIdentityProvider(o));
  v.push_back(makeEcsProvider(o.timeout));
  v.push_back(makeImdsProvider(o.timeout));
  return std::make_unique<ChainProvider>(std::move(v));
}

CredentialProviderPtr makeProvider(const ChainOptions& o) {
  auto chain = makeDefaultChain(o);
  if (o.roleArn.empty()) return chain;
  return makeAssumeRoleProvider(std::move(chain), o);
}

// ---------------------------------------------------------------------------------------------

CredentialSource::CredentialSource(CredentialProviderPtr provider) : provider_(std::move(provider)) {}

CredentialSource::~CredentialSource() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CredentialSource::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

std::shared_ptr<const Credentials> CredentialSource::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!current_ || Clock::now() >= current_->expiration) return nullptr;
  return current_;
}

std::string CredentialSource::lastError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lastError_;
}

void CredentialSource::refreshSoon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (now - lastForced_ < std::chrono::seconds(1)) return;
    lastForced_ = now;
    wake_ = true;
  }
  cv_.notify_all();
}

void CredentialSource::run() {
  using namespace std::chrono;
  milliseconds failDelay(250);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      wake_ = false;
    }
    bool available = false;
    auto r = provider_->fetch(available);
    fetches_.fetch_add(1);
    auto now = Clock::now();
    Clock::time_point next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (r) {
        current_ = std::make_shared<const Credentials>(std::move(*r));
        lastError_.clear();
        failDelay = milliseconds(250);
        if (current_->expiration == Clock::time_point::max()) {
          next = Clock::time_point::max();
        } else {
          // Refresh halfway through the remaining lifetime, at most 5 minutes before Expiration.
          auto left = current_->expiration - now;
          auto ahead = std::min<Clock::duration>(minutes(5), left / 2);
          next = now + std::max<Clock::duration>(milliseconds(100), left - ahead);
        }
      } else {
        lastError_ = r.message();
        bool valid = current_ && now < current_->expiration;
        FL_WARN("[aws] credential refresh failed%s: %s", valid ? " (keeping the current credentials)" : "",
                r.message().c_str());
        auto delay = failDelay;
        failDelay = std::min<milliseconds>(failDelay * 2, seconds(30));
        if (valid) delay = std::min<milliseconds>(delay, duration_cast<milliseconds>((current_->expiration - now) / 4));
        next = now + std::max(delay, milliseconds(100));
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (next == Clock::time_point::max()) {
      cv_.wait(lock, [&] { return stop_ || wake_; });
    } else {
      cv_.wait_until(lock, next, [&] { return stop_ || wake_; });
    }
    if (stop_) return;
  }
}

}  // namespace firelane::aws
