// Runtime generation of the test CA and its certificates with OpenSSL 3's EVP / X509 APIs.
#include "support/test_certs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace firelane::testsupport {
namespace {

[[noreturn]] void fail(const std::string& what) {
  unsigned long code = ERR_get_error();
  char buf[256] = {0};
  if (code != 0) ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  throw std::runtime_error("test_certs: " + what + (code != 0 ? std::string(": ") + buf : std::string()));
}

EVP_PKEY* newKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) fail("EVP_EC_gen");
  return key;
}

std::string pemOf(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_X509(bio, cert) != 1) fail("PEM_write_bio_X509");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string pemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) fail("extension " + value);
  if (X509_add_ext(cert, ext, -1) != 1) fail("X509_add_ext");
  X509_EXTENSION_free(ext);
}

// A certificate with a random serial, the given subject CN and key, not yet signed.
X509* newCert(EVP_PKEY* key, const std::string& commonName) {
  X509* cert = X509_new();
  if (cert == nullptr) fail("X509_new");
  X509_set_version(cert, 2);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("firelane tests"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(commonName.c_str()),
                             -1, -1, 0);
  return cert;
}

}  // namespace

TestCa::TestCa(const std::string& commonName) {
  key_ = newKey();
  cert_ = newCert(key_, commonName);
  X509_set_issuer_name(cert_, X509_get_subject_name(cert_));
  addExtension(cert_, cert_, NID_basic_constraints, "critical,CA:TRUE");
  addExtension(cert_, cert_, NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(cert_, cert_, NID_subject_key_identifier, "hash");
  if (X509_sign(cert_, key_, EVP_sha256()) == 0) fail("X509_sign CA");
  certPem_ = pemOf(cert_);
  keyPem_ = pemOf(key_);
}

TestCa::~TestCa() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

CertKey TestCa::issue(const std::string& commonName, const std::string& extendedKeyUsage,
                      const std::string& subjectAltName) const {
  EVP_PKEY* key = newKey();
  X509* cert = newCert(key, commonName);
  X509_set_issuer_name(cert, X509_get_subject_name(cert_));
  addExtension(cert, cert_, NID_basic_constraints, "critical,CA:FALSE");
  addExtension(cert, cert_, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  addExtension(cert, cert_, NID_ext_key_usage, extendedKeyUsage);
  addExtension(cert, cert_, NID_subject_key_identifier, "hash");
  addExtension(cert, cert_, NID_authority_key_identifier, "keyid:always");
  if (!subjectAltName.empty()) addExtension(cert, cert_, NID_subject_alt_name, subjectAltName);
  if (X509_sign(cert, key_, EVP_sha256()) == 0) fail("X509_sign leaf");
  CertKey out{pemOf(cert), pemOf(key), {}, {}};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

CertKey TestCa::issueServer(const std::vector<std::string>& dnsNames, const std::vector<std::string>& ips,
                            const std::string& commonName) const {
  std::string san;
  for (const auto& dns : dnsNames) san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  for (const auto& ip : ips) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  return issue(commonName, "serverAuth", san);
}

CertKey TestCa::issueClient(const std::string& commonName) const { return issue(commonName, "clientAuth", ""); }

TestPki::TestPki() : dir_("firelane-pki"), ca_("firelane test CA"), unknownCa_("unknown test CA") {
  caFile_ = dir_.writeFile("ca.pem", ca_.certPem());
  unknownCaFile_ = dir_.writeFile("unknown-ca.pem", unknownCa_.certPem());
  auto write = [this](CertKey& ck, const std::string& name) {
    ck.certFile = dir_.writeFile(name + ".pem", ck.certPem);
    ck.keyFile = dir_.writeFile(name + ".key", ck.keyPem);
  };
  server_ = ca_.issueServer();
  write(server_, "server");
  client_ = ca_.issueClient();
  write(client_, "client");
  unknownClient_ = unknownCa_.issueClient("unknown-client");
  write(unknownClient_, "unknown-client");
}

}  // namespace firelane::testsupport
