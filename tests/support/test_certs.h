// Test PKI generated at runtime with OpenSSL (no openssl command): a CA, a server certificate for
// 127.0.0.1 / localhost, a client certificate for mTLS, and an unrelated "unknown" CA.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace firelane::testsupport {

// A certificate and its private key, both PEM; the file paths are set once written to disk.
struct CertKey {
  std::string certPem;
  std::string keyPem;
  std::string certFile;
  std::string keyFile;
};

// A self-signed CA (EC P-256, SHA-256) that issues leaf certificates. Valid from one hour ago for
// 30 days. Throws std::runtime_error when OpenSSL fails. Not thread-safe; immutable after issuing.
class TestCa {
 public:
  explicit TestCa(const std::string& commonName = "firelane test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& certPem() const { return certPem_; }
  const std::string& keyPem() const { return keyPem_; }

  // A server certificate (serverAuth) with subjectAltName DNS:<dnsNames>, IP:<ips>.
  CertKey issueServer(const std::vector<std::string>& dnsNames = {"localhost"},
                      const std::vector<std::string>& ips = {"127.0.0.1"},
                      const std::string& commonName = "localhost") const;
  // A client certificate (clientAuth) for mutual TLS.
  CertKey issueClient(const std::string& commonName = "firelane-test-client") const;

 private:
  CertKey issue(const std::string& commonName, const std::string& extendedKeyUsage,
                const std::string& subjectAltName) const;

  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string certPem_;
  std::string keyPem_;
};

// Everything a TLS test needs, written to a private temporary directory (removed with the object):
// ca.pem, server.pem/server.key (127.0.0.1 + localhost), client.pem/client.key (signed by the CA),
// unknown-ca.pem and unknown-client.pem/.key (signed by the unknown CA, for rejection tests).
class TestPki {
 public:
  TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& caFile() const { return caFile_; }  // pass as tls.ca_file
  const std::string& caPem() const { return ca_.certPem(); }
  const CertKey& server() const { return server_; }
  const CertKey& client() const { return client_; }
  const std::string& unknownCaFile() const { return unknownCaFile_; }
  const std::string& unknownCaPem() const { return unknownCa_.certPem(); }
  const CertKey& unknownClient() const { return unknownClient_; }
  const std::string& dir() const { return dir_.path(); }
  const TestCa& ca() const { return ca_; }

 private:
  TempDir dir_;
  TestCa ca_;
  TestCa unknownCa_;
  std::string caFile_;
  std::string unknownCaFile_;
  CertKey server_;
  CertKey client_;
  CertKey unknownClient_;
};

}  // namespace firelane::testsupport
