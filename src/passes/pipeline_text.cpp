// Pipeline text parsing and printing (see pass.h). Grammar:
//   pipeline := pass (',' pass)*      pass := NAME ('{' option (',' option)* '}')?
//   option   := KEY '=' VALUE         NAME, KEY, VALUE: [A-Za-z0-9_.:/*+-]+
#include <cctype>

#include "nncompress/passes/pass.h"

namespace nnc {
namespace {

bool isWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || std::string("_.-:/*+").find(c) != std::string::npos; }

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  Expected<std::vector<PassSpec>> parse() {
    std::vector<PassSpec> specs;
    skipSpaces();
    if (pos_ == text_.size()) return error("the pipeline is empty");
    while (true) {
      PassSpec spec;
      NNC_ASSIGN_OR_RETURN(spec.name, word("a pass name"));
      skipSpaces();
      if (peek() == '{') {
        ++pos_;
        while (true) {
          NNC_ASSIGN_OR_RETURN(std::string key, word("an option name"));
          skipSpaces();
          if (peek() != '=') return error("expected '=' after option '" + key + "'");
          ++pos_;
          NNC_ASSIGN_OR_RETURN(std::string value, word("a value for '" + key + "'"));
          if (!spec.options.emplace(key, value).second) return error("option '" + key + "' is given twice");
          skipSpaces();
          if (peek() == ',') {
            ++pos_;
            continue;
          }
          if (peek() == '}') {
            ++pos_;
            break;
          }
          return error("expected ',' or '}'");
        }
      }
      specs.push_back(std::move(spec));
      skipSpaces();
      if (pos_ == text_.size()) return specs;
      if (peek() != ',') return error("expected ',' between passes");
      ++pos_;
    }
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skipSpaces() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  Expected<std::string> word(const std::string& what) {
    skipSpaces();
    size_t start = pos_;
    while (pos_ < text_.size() && isWordChar(text_[pos_])) ++pos_;
    if (pos_ == start) return error("expected " + what);
    return text_.substr(start, pos_ - start);
  }
  Status error(const std::string& message) const {
    return invalidArgument("pipeline '" + text_ + "' at character " + std::to_string(pos_ + 1) + ": " + message);
  }
  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

Expected<std::vector<PassSpec>> parsePipeline(const std::string& text) { return Parser(text).parse(); }

std::string formatPipeline(const std::vector<PassSpec>& specs) {
  std::string out;
  for (const PassSpec& spec : specs) {
    if (!out.empty()) out += ",";
    out += spec.name;
    if (!spec.options.empty()) {
      out += "{";
      bool first = true;
      for (const auto& [key, value] : spec.options) {
        out += (first ? "" : ",") + key + "=" + value;
        first = false;
      }
      out += "}";
    }
  }
  return out;
}

namespace {

// Parses the whole of `value` with `parse` (std::stod / std::stoll), or fails naming the option.
template <typename T, typename Parse>
Expected<T> parseWhole(const std::string& pass, const std::string& key, const std::string& value, Parse parse,
                       const char* what) {
  try {
    size_t used = 0;
    T v = parse(value, &used);
    if (used == value.size()) return v;
  } catch (const std::exception&) {
  }
  return invalidArgument(pass + ": option " + key + "=" + value + " is not " + what);
}

}  // namespace

Expected<double> PassOptions::number(const std::string& key, double fallback) {
  auto it = options_.find(key);
  if (it == options_.end()) return fallback;
  std::string value = it->second;
  options_.erase(it);
  return parseWhole<double>(pass_, key, value, [](const std::string& v, size_t* used) { return std::stod(v, used); }, "a number");
}

Expected<int64_t> PassOptions::integer(const std::string& key, int64_t fallback) {
  auto it = options_.find(key);
  if (it == options_.end()) return fallback;
  std::string value = it->second;
  options_.erase(it);
  return parseWhole<int64_t>(pass_, key, value, [](const std::string& v, size_t* used) { return static_cast<int64_t>(std::stoll(v, used)); },
                             "an integer");
}

Expected<bool> PassOptions::flag(const std::string& key, bool fallback) {
  auto it = options_.find(key);
  if (it == options_.end()) return fallback;
  std::string value = it->second;
  options_.erase(it);
  if (value == "true" || value == "1" || value == "on") return true;
  if (value == "false" || value == "0" || value == "off") return false;
  return invalidArgument(pass_ + ": option " + key + "=" + value + " must be true or false");
}

std::string PassOptions::text(const std::string& key, const std::string& fallback) {
  auto it = options_.find(key);
  if (it == options_.end()) return fallback;
  std::string value = it->second;
  options_.erase(it);
  return value;
}

Status PassOptions::checkNoUnknownOptions() const {
  if (options_.empty()) return Status::ok();
  std::string names;
  for (const auto& [key, value] : options_) names += (names.empty() ? "" : ", ") + key;
  return invalidArgument(pass_ + ": unknown option(s) " + names);
}

}  // namespace nnc
