// Fluent Bit classic-format parser. Reads whole files, expands @INCLUDE in place and ${VAR} as it
// goes, and reports the first problem as "file:line: what is wrong" so users can fix configs fast.
#include "core/config/classic_parser.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

namespace firelane::config {

namespace {

namespace fs = std::filesystem;

bool isBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && (isBlank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Splits "Key  rest of line" at the first blank run.
void splitFirstToken(std::string_view line, std::string_view& first, std::string_view& rest) {
  size_t i = 0;
  while (i < line.size() && !isBlank(line[i])) ++i;
  first = line.substr(0, i);
  rest = trim(line.substr(i));
}

bool hasGlobMagic(std::string_view path) { return path.find_first_of("*?[") != std::string_view::npos; }

// The identity used for cycle detection: symlinks and "a/../a" spellings of one file must compare
// equal, while messages keep the path the way the user wrote it.
std::string identityOf(const fs::path& p) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(p, ec);
  if (ec) canonical = fs::absolute(p, ec).lexically_normal();
  return canonical.string();
}

std::string joinPath(const std::string& dir, std::string_view rel) {
  fs::path p(rel);
  if (p.is_absolute() || dir.empty()) return p.lexically_normal().string();
  return (fs::path(dir) / p).lexically_normal().string();
}

std::string parentDir(const std::string& path) { return fs::path(path).parent_path().string(); }

struct Frame {
  std::string display;   // path as shown in messages
  std::string identity;  // canonical path, for cycle detection
};

class Parser {
 public:
  Parser(const ParseOptions& options, std::string rootDir)
      : options_(options), rootDir_(std::move(rootDir)) {}

  Status parseText(std::string_view text, const Frame& frame, const std::string& dir);
  Document& document() { return doc_; }

 private:
  std::string at(const std::string& file, int line) const { return file + ":" + std::to_string(line) + ": "; }
  const char* lookupEnv(const std::string& name) const;
  std::string expand(std::string_view text, const std::string& file, int line);
  Status handleDirective(std::string_view trimmed, const std::string& file, int line, const std::string& dir);
  Status handleInclude(std::string_view pathText, const std::string& file, int line, const std::string& dir);
  Result<std::vector<std::string>> resolveInclude(const std::string& pattern, const std::string& dir,
                                                  const std::string& where, std::string_view pathText);
  Status includeFile(const std::string& path, const std::string& file, int line, std::string_view pathText);

  const ParseOptions& options_;
  std::string rootDir_;  // folder of the top-level file: the fallback for Fluent Bit style includes
  Document doc_;
  std::vector<Frame> stack_;                 // files being parsed, outermost first
  std::map<std::string, std::string> vars_;  // @SET variables; they shadow the environment
};

const char* Parser::lookupEnv(const std::string& name) const {
  if (options_.getenv) return options_.getenv(name.c_str());
  return ::getenv(name.c_str());
}

std::string Parser::expand(std::string_view text, const std::string& file, int line) {
  std::string out;
  std::vector<std::string> warned;  // one warning per variable per line is enough
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("${", pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find('}', open + 2);
    if (close == std::string_view::npos) break;  // unterminated: kept literally, like Fluent Bit
    out.append(text.substr(pos, open - pos));
    std::string name(text.substr(open + 2, close - open - 2));
    pos = close + 1;
    if (name.empty()) {
      out.append("${}");
      continue;
    }
    if (auto it = vars_.find(name); it != vars_.end()) {
      out.append(it->second);
    } else if (const char* env = lookupEnv(name)) {
      out.append(env);
    } else if (std::find(warned.begin(), warned.end(), name) == warned.end()) {
      warned.push_back(name);
      doc_.warnings.push_back(at(file, line) + "environment variable '" + name + "' is not set");
    }
  }
  out.append(text.substr(pos));
  return out;
}

Status Parser::parseText(std::string_view text, const Frame& frame, const std::string& dir) {
  // Editors on Windows like to start files with a UTF-8 byte order mark.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  stack_.push_back(frame);
  const std::string& file = frame.display;
  // Per file, as in Fluent Bit: an included file cannot add entries to the includer's section, but
  // entries after an @INCLUDE line still belong to the includer's open section.
  std::optional<size_t> current;
  int lineNo = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lineNo;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;

    if (line.front() == '@') {
      Status st = handleDirective(line, file, lineNo, dir);
      if (!st) return st;
      continue;
    }

    if (line.front() == '[') {
      size_t close = line.find(']');
      if (close == std::string_view::npos) {
        return Status::error(at(file, lineNo) + "invalid section header '" + std::string(line) +
                             "': missing ']'");
      }
      std::string_view name = trim(line.substr(1, close - 1));
      if (name.empty()) {
        return Status::error(at(file, lineNo) + "invalid section header '" + std::string(line) +
                             "': empty section name");
      }
      if (!trim(line.substr(close + 1)).empty()) {
        return Status::error(at(file, lineNo) + "invalid section header '" + std::string(line) +
                             "': unexpected text after ']'");
      }
      Section section;
      section.kind = lowerAscii(name);
      section.file = file;
      section.line = lineNo;
      doc_.sections.push_back(std::move(section));
      current = doc_.sections.size() - 1;
      continue;
    }

    std::string_view key, value;
    splitFirstToken(line, key, value);
    if (!current) {
      // Only the key: the value may be a secret (an apikey line above the first section).
      return Status::error(at(file, lineNo) + "entry outside of a section: '" + std::string(key) + "'");
    }
    if (value.empty()) {
      return Status::error(at(file, lineNo) + "key '" + std::string(key) + "' has no value");
    }
    Entry entry;
    entry.key = expand(key, file, lineNo);
    if (entry.key.empty()) {
      return Status::error(at(file, lineNo) + "key '" + std::string(key) +
                           "' is empty after variable expansion");
    }
    entry.value = expand(value, file, lineNo);
    entry.file = file;
    entry.line = lineNo;
    doc_.sections[*current].entries.push_back(std::move(entry));
  }
  stack_.pop_back();
  return {};
}

Status Parser::handleDirective(std::string_view line, const std::string& file, int lineNo,
                               const std::string& dir) {
  std::string_view name, arg;
  splitFirstToken(line, name, arg);
  if (iequals(name, "@INCLUDE")) {
    if (arg.empty()) return Status::error(at(file, lineNo) + "@INCLUDE without a path");
    return handleInclude(arg, file, lineNo, dir);
  }
  if (iequals(name, "@SET")) {
    size_t eq = arg.find('=');
    std::string_view key = eq == std::string_view::npos ? std::string_view() : trim(arg.substr(0, eq));
    if (key.empty()) {
      // Never echo the value part: @SET often carries secrets.
      std::string shown = eq == std::string_view::npos ? std::string(line) : "@SET =...";
      return Status::error(at(file, lineNo) + "@SET expects KEY=VALUE, got '" + shown + "'");
    }
    vars_[std::string(key)] = expand(trim(arg.substr(eq + 1)), file, lineNo);
    return {};
  }
  return Status::error(at(file, lineNo) + "unknown directive '" + std::string(name) +
                       "' (expected @INCLUDE or @SET)");
}

Result<std::vector<std::string>> Parser::resolveInclude(const std::string& pattern, const std::string& dir,
                                                        const std::string& where, std::string_view pathText) {
  std::string full = joinPath(dir, pattern);
  std::vector<std::string> files;
  if (!hasGlobMagic(pattern)) {
    std::error_code ec;
    if (fs::exists(full, ec)) files.push_back(full);
    return files;
  }
  glob_t g{};
  int rc = ::glob(full.c_str(), 0, nullptr, &g);
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::error_code ec;
      // A pattern such as conf.d/* may also match folders; only files can be parsed.
      if (fs::is_regular_file(g.gl_pathv[i], ec)) files.emplace_back(g.gl_pathv[i]);
    }
  }
  ::globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) {
    return Status::error(where + "@INCLUDE '" + std::string(pathText) + "': cannot expand the pattern");
  }
  // Byte order rather than glob's locale collation, so the include order never depends on LC_ALL.
  std::sort(files.begin(), files.end());
  return files;
}

Status Parser::handleInclude(std::string_view pathText, const std::string& file, int lineNo,
                             const std::string& dir) {
  std::string pattern = expand(pathText, file, lineNo);
  std::string where = at(file, lineNo);
  auto files = resolveInclude(pattern, dir, where, pathText);
  if (!files) return files.status();
  // Fluent Bit resolves every include against the top-level file's folder; firelane prefers the
  // including file's folder and falls back so that configs written for Fluent Bit still load.
  if (files->empty() && !fs::path(pattern).is_absolute() && dir != rootDir_) {
    files = resolveInclude(pattern, rootDir_, where, pathText);
    if (!files) return files.status();
  }
  if (files->empty()) {
    if (hasGlobMagic(pattern)) {
      doc_.warnings.push_back(where + "@INCLUDE '" + std::string(pathText) + "' matched no files");
      return {};
    }
    return Status::error(where + "@INCLUDE '" + std::string(pathText) + "': no such file");
  }
  for (const auto& path : *files) {
    Status st = includeFile(path, file, lineNo, pathText);
    if (!st) return st;
  }
  return {};
}

Status Parser::includeFile(const std::string& path, const std::string& file, int lineNo,
                           std::string_view pathText) {
  std::string where = at(file, lineNo);
  Frame frame{path, identityOf(path)};
  for (size_t i = 0; i < stack_.size(); ++i) {
    if (stack_[i].identity != frame.identity) continue;
    std::string chain;
    for (size_t j = i; j < stack_.size(); ++j) chain += stack_[j].display + " -> ";
    return Status::error(where + "include cycle: " + chain + frame.display);
  }
  // stack_ holds the top-level file too, so its size is the depth the new file would have.
  if (static_cast<int>(stack_.size()) > options_.maxIncludeDepth) {
    return Status::error(where + "@INCLUDE '" + std::string(pathText) + "': includes nested deeper than " +
                         std::to_string(options_.maxIncludeDepth) + " levels");
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return Status::error(where + "@INCLUDE '" + std::string(pathText) + "': is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::error(where + "@INCLUDE '" + std::string(pathText) +
                         "': cannot open: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Status::error(where + "@INCLUDE '" + std::string(pathText) + "': read error");
  }
  return parseText(text.str(), frame, parentDir(path));
}

}  // namespace

Result<Document> parseFile(const std::string& path, const ParseOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::error(path + ": cannot open config file: no such file");
  if (fs::is_directory(path, ec)) return Status::error(path + ": cannot open config file: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(path + ": cannot open config file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::error(path + ": cannot read config file");
  std::string dir = parentDir(path);
  Parser parser(options, dir);
  Status st = parser.parseText(text.str(), Frame{path, identityOf(path)}, dir);
  if (!st) return st;
  return std::move(parser.document());
}

Result<Document> parseString(std::string_view text, const std::string& name, const std::string& baseDir,
                             const ParseOptions& options) {
  Parser parser(options, baseDir);
  Status st = parser.parseText(text, Frame{name, identityOf(joinPath(baseDir, name))}, baseDir);
  if (!st) return st;
  return std::move(parser.document());
}

}  // namespace firelane::config
