// See html_report.h. Charts are plain SVG drawn here, so the file opens anywhere, offline, and
// the same report always gives the same page.
#include "nncompress/pipeline/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

namespace nnc {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string bytesText(double bytes) {
  if (bytes >= 1024.0 * 1024.0) return format("%.2f MB", bytes / (1024.0 * 1024.0));
  return format("%.1f KB", bytes / 1024.0);
}

std::string percentText(const std::optional<double>& v) { return v ? format("%.2f%%", 100 * *v) : "-"; }

std::string countText(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::vector<const StageRow*> allRows(const PipelineReport& report) {
  std::vector<const StageRow*> rows = {&report.original};
  for (const StageRow& row : report.stages) rows.push_back(&row);
  return rows;
}

std::string stageLabel(const StageRow& row) { return std::to_string(row.index) + " " + row.pass; }

// A vertical bar per stage; stages without a value get no bar.
std::string barChart(const std::string& title, const std::vector<const StageRow*>& rows,
                     const std::function<std::optional<double>(const StageRow&)>& value,
                     const std::function<std::string(double)>& label, const char* color) {
  const double width = 460, height = 250, left = 40, bottom = 70, top = 30;
  double max_value = 0;
  for (const StageRow* r : rows)
    if (auto v = value(*r)) max_value = std::max(max_value, *v);
  if (max_value <= 0) max_value = 1;
  const double slot = (width - left - 10) / static_cast<double>(rows.size());
  std::ostringstream svg;
  svg << "<figure><svg class=\"chart\" viewBox=\"0 0 " << width << ' ' << height << "\" width=\"" << width << "\" height=\"" << height
      << "\" role=\"img\" aria-label=\"" << escape(title) << "\">";
  svg << "<text x=\"" << width / 2 << "\" y=\"18\" class=\"title\">" << escape(title) << "</text>";
  svg << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - 10 << "\" y2=\"" << height - bottom
      << "\" class=\"axis\"/>";
  for (size_t i = 0; i < rows.size(); ++i) {
    const double x = left + slot * static_cast<double>(i) + slot * 0.15, w = slot * 0.7;
    if (auto v = value(*rows[i])) {
      const double h = (height - bottom - top) * (*v / max_value);
      svg << "<rect x=\"" << x << "\" y=\"" << height - bottom - h << "\" width=\"" << w << "\" height=\"" << h << "\" fill=\"" << color
          << "\"><title>" << escape(stageLabel(*rows[i]) + ": " + label(*v)) << "</title></rect>";
      svg << "<text x=\"" << x + w / 2 << "\" y=\"" << height - bottom - h - 4 << "\" class=\"value\">" << escape(label(*v)) << "</text>";
    }
    svg << "<text x=\"" << x + w / 2 << "\" y=\"" << height - bottom + 14 << "\" class=\"label\" transform=\"rotate(25 " << x + w / 2
        << ' ' << height - bottom + 14 << ")\">" << escape(stageLabel(*rows[i]).substr(0, 22)) << "</text>";
  }
  svg << "</svg></figure>";
  return svg.str();
}

// Accuracy (or agreement without labels) against file size, one point per stage, joined in
// stage order: the trade-off the pipeline made.
std::string tradeoffChart(const std::vector<const StageRow*>& rows) {
  const bool labeled = rows.front()->metrics.accuracy.has_value();
  auto quality = [&](const StageRow& r) { return labeled ? r.metrics.accuracy : r.metrics.agreement; };
  std::vector<std::pair<const StageRow*, double>> points;
  for (const StageRow* r : rows)
    if (auto q = quality(*r)) points.emplace_back(r, 100 * *q);
  if (points.empty()) return "";
  const double width = 460, height = 300, left = 60, right = 20, top = 30, bottom = 50;
  double min_q = points.front().second, max_q = min_q, max_kb = 0;
  for (const auto& [r, q] : points) {
    min_q = std::min(min_q, q);
    max_q = std::max(max_q, q);
    max_kb = std::max(max_kb, static_cast<double>(r->metrics.bytes) / 1024.0);
  }
  if (max_q - min_q < 1) min_q = max_q - 1;  // at least one point of range, so small changes stay visible
  const double pad = (max_q - min_q) * 0.1;
  min_q -= pad;
  max_q += pad;
  auto px = [&](double kb) { return left + (width - left - right) * kb / (max_kb * 1.05); };
  auto py = [&](double q) { return top + (height - top - bottom) * (max_q - q) / (max_q - min_q); };
  std::ostringstream svg;
  const std::string title = std::string(labeled ? "Top-1 accuracy" : "Top-1 agreement with the original") + " vs file size";
  svg << "<figure><svg class=\"chart\" viewBox=\"0 0 " << width << ' ' << height << "\" width=\"" << width << "\" height=\"" << height
      << "\" role=\"img\" aria-label=\"" << escape(title) << "\">";
  svg << "<text x=\"" << width / 2 << "\" y=\"18\" class=\"title\">" << escape(title) << "</text>";
  svg << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - right << "\" y2=\"" << height - bottom
      << "\" class=\"axis\"/><line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << height - bottom
      << "\" class=\"axis\"/>";
  svg << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 12 << "\" class=\"label\">file size (KB)</text>";
  for (double q : {min_q + pad, max_q - pad})
    svg << "<text x=\"" << left - 4 << "\" y=\"" << py(q) + 4 << "\" class=\"tick\">" << format("%.1f%%", q) << "</text>";
  svg << "<text x=\"" << left << "\" y=\"" << height - bottom + 14 << "\" class=\"tick-x\">0</text><text x=\"" << px(max_kb) << "\" y=\""
      << height - bottom + 14 << "\" class=\"tick-x\">" << format("%.0f", max_kb) << "</text>";
  std::string path;
  for (const auto& [r, q] : points)
    path += (path.empty() ? "M" : " L") + format("%.1f", px(static_cast<double>(r->metrics.bytes) / 1024.0)) + ' ' + format("%.1f", py(q));
  svg << "<path d=\"" << path << "\" class=\"trend\"/>";
  for (const auto& [r, q] : points) {
    const double x = px(static_cast<double>(r->metrics.bytes) / 1024.0), y = py(q);
    svg << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"5\" class=\"point\"><title>" << escape(stageLabel(*r)) << ": "
        << bytesText(static_cast<double>(r->metrics.bytes)) << ", " << format("%.2f%%", q) << "</title></circle>";
    svg << "<text x=\"" << x + 7 << "\" y=\"" << y - 6 << "\" class=\"point-label\">" << r->index << "</text>";
  }
  svg << "</svg></figure>";
  return svg.str();
}

// Parameters per layer in the original and the final model (the largest layers of the original),
// with the final model's sparsity per layer.
std::string layerChart(const StageRow& original, const StageRow& final_row) {
  if (original.metrics.layers.empty()) return "";
  std::vector<const LayerStat*> largest;
  for (const LayerStat& l : original.metrics.layers) largest.push_back(&l);
  std::stable_sort(largest.begin(), largest.end(), [](const LayerStat* a, const LayerStat* b) { return a->params > b->params; });
  if (largest.size() > 30) largest.resize(30);
  std::map<std::string, const LayerStat*> final_by_name;
  for (const LayerStat& l : final_row.metrics.layers) final_by_name.emplace(l.name, &l);
  const double row_h = 22, left = 230, bar_w = 330, width = left + bar_w + 130;
  const double height = 50 + row_h * static_cast<double>(largest.size());
  const double max_params = static_cast<double>(std::max<int64_t>(largest.front()->params, 1));
  std::ostringstream svg;
  const std::string title = "Parameters per layer: original (grey) and stage " + std::to_string(final_row.index) + " (blue); its sparsity";
  svg << "<figure><svg class=\"chart\" viewBox=\"0 0 " << width << ' ' << height << "\" width=\"" << width << "\" height=\"" << height
      << "\" role=\"img\" aria-label=\"per-layer parameters and sparsity\">";
  svg << "<text x=\"" << width / 2 << "\" y=\"18\" class=\"title\">" << escape(title) << "</text>";
  for (size_t i = 0; i < largest.size(); ++i) {
    const LayerStat& l = *largest[i];
    const double y = 34 + row_h * static_cast<double>(i);
    const double w0 = bar_w * static_cast<double>(l.params) / max_params;
    svg << "<text x=\"" << left - 6 << "\" y=\"" << y + 13 << "\" class=\"layer\">" << escape(l.name.substr(0, 34)) << "</text>";
    svg << "<rect x=\"" << left << "\" y=\"" << y << "\" width=\"" << w0 << "\" height=\"8\" class=\"before\"><title>"
        << escape(l.name) << " original: " << countText(l.params) << " params</title></rect>";
    auto it = final_by_name.find(l.name);
    if (it != final_by_name.end()) {
      const LayerStat& f = *it->second;
      const double w1 = bar_w * static_cast<double>(f.params) / max_params;
      svg << "<rect x=\"" << left << "\" y=\"" << y + 9 << "\" width=\"" << w1 << "\" height=\"8\" class=\"after\"><title>" << escape(l.name)
          << " stage " << final_row.index << ": " << countText(f.params) << " params, sparsity " << format("%.1f%%", 100 * f.sparsity)
          << "</title></rect>";
      svg << "<text x=\"" << left + bar_w + 8 << "\" y=\"" << y + 13 << "\" class=\"layer-value\">" << countText(f.params) << " · "
          << format("%.0f%% zeros", 100 * f.sparsity) << "</text>";
    } else {
      svg << "<text x=\"" << left + bar_w + 8 << "\" y=\"" << y + 13 << "\" class=\"layer-value\">removed or renamed</text>";
    }
  }
  svg << "</svg></figure>";
  return svg.str();
}

const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5a6272;font-size:13px;word-break:break-all}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #d8dde6;border-radius:8px;padding:10px 14px;min-width:160px}
.card b{display:block;font-size:20px}.card span{color:#5a6272;font-size:12px}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #e3e7ee;padding:5px 9px;text-align:right;white-space:nowrap}
td.l:last-child{white-space:normal}
th{background:#f3f5f9}td.l,th.l{text-align:left}tr.final td{font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}
svg.chart text{font-size:11px;fill:#1d2330}svg.chart .title{font-size:13px;font-weight:600;text-anchor:middle}
svg.chart .value{text-anchor:middle}svg.chart .label{text-anchor:start}svg.chart .tick{text-anchor:end}
svg.chart .tick-x{text-anchor:middle}svg.chart .axis{stroke:#8a93a3;stroke-width:1}
svg.chart .trend{fill:none;stroke:#7d8cc4;stroke-width:1.5}svg.chart .point{fill:#2f5fd0}
svg.chart .point-label{font-weight:600}svg.chart .layer{text-anchor:end}svg.chart .layer-value{fill:#5a6272}
svg.chart .before{fill:#b9c0cc}svg.chart .after{fill:#2f5fd0}
)";

}  // namespace

std::string renderHtmlReport(const PipelineReport& report) {
  const std::vector<const StageRow*> rows = allRows(report);
  const StageRow& original = report.original;
  const StageRow& last = report.stages.empty() ? original : report.stages.back();
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>nncompress report: " << escape(report.input)
       << "</title><style>" << kStyle << "</style></head><body>\n";
  html << "<h1>nncompress pipeline report</h1>\n<div class=\"sub\">model <code>" << escape(report.input) << "</code><br>pipeline <code>"
       << escape(report.pipeline) << "</code></div>\n";

  // Before / after at a glance.
  html << "<div class=\"cards\">";
  const double ratio = original.metrics.bytes ? static_cast<double>(last.metrics.bytes) / static_cast<double>(original.metrics.bytes) : 1;
  html << "<div class=\"card\"><span>file size</span><b>" << bytesText(static_cast<double>(original.metrics.bytes)) << " → "
       << bytesText(static_cast<double>(last.metrics.bytes)) << "</b><span>" << format("%.2fx smaller", ratio > 0 ? 1 / ratio : 0)
       << "</span></div>";
  html << "<div class=\"card\"><span>parameters</span><b>" << countText(original.metrics.params) << " → " << countText(last.metrics.params)
       << "</b><span>" << format("%.1f%% zeros after", 100 * last.metrics.sparsity) << "</span></div>";
  if (original.metrics.accuracy && last.metrics.accuracy)
    html << "<div class=\"card\"><span>top-1 accuracy (" << last.metrics.samples << " samples)</span><b>" << percentText(original.metrics.accuracy)
         << " → " << percentText(last.metrics.accuracy) << "</b><span>"
         << format("%+.2f points", 100 * (*last.metrics.accuracy - *original.metrics.accuracy)) << "</span></div>";
  if (last.metrics.agreement)
    html << "<div class=\"card\"><span>top-1 agreement with the original</span><b>" << percentText(last.metrics.agreement) << "</b><span>"
         << (last.metrics.sqnr_db ? format("SQNR %.1f dB", *last.metrics.sqnr_db) : std::string("identical outputs")) << "</span></div>";
  html << "<div class=\"card\"><span>batch-1 latency (median)</span><b>" << format("%.3f", original.metrics.latency_ms) << " → "
       << format("%.3f ms", last.metrics.latency_ms) << "</b><span>measured on this machine</span></div>";
  html << "</div>\n";

  html << "<h2>Stages</h2>\n<table><tr><th>#</th><th class=\"l\">stage</th><th>size</th><th>params</th><th>sparsity</th><th>accuracy</th>"
          "<th>agreement</th><th>SQNR dB</th><th>latency ms</th><th class=\"l\">what the pass did</th></tr>\n";
  for (const StageRow* r : rows) {
    html << "<tr" << (r == &last && r != &original ? " class=\"final\"" : "") << "><td>" << r->index << "</td><td class=\"l\">"
         << escape(r->pass) << (r->resumed ? " (resumed)" : "") << "</td><td>" << bytesText(static_cast<double>(r->metrics.bytes)) << "</td><td>"
         << countText(r->metrics.params) << "</td><td>" << format("%.2f%%", 100 * r->metrics.sparsity) << "</td><td>"
         << percentText(r->metrics.accuracy) << "</td><td>" << percentText(r->metrics.agreement) << "</td><td>"
         << (r->metrics.sqnr_db ? format("%.1f", *r->metrics.sqnr_db) : std::string("-")) << "</td><td>"
         << format("%.3f", r->metrics.latency_ms) << "</td><td class=\"l\">" << escape(r->summary) << "</td></tr>\n";
  }
  html << "</table>\n";

  html << "<h2>Per stage</h2>\n<div class=\"charts\">";
  html << barChart("File size (KB)", rows, [](const StageRow& r) { return std::optional<double>(static_cast<double>(r.metrics.bytes) / 1024.0); },
                   [](double v) { return format("%.1f", v); }, "#2f5fd0");
  if (original.metrics.accuracy)
    html << barChart("Top-1 accuracy (%)", rows,
                     [](const StageRow& r) { return r.metrics.accuracy ? std::optional<double>(100 * *r.metrics.accuracy) : std::nullopt; },
                     [](double v) { return format("%.2f", v); }, "#2c9a5b");
  else
    html << barChart("Top-1 agreement with the original (%)", rows,
                     [](const StageRow& r) { return r.metrics.agreement ? std::optional<double>(100 * *r.metrics.agreement) : std::nullopt; },
                     [](double v) { return format("%.2f", v); }, "#2c9a5b");
  html << barChart("Batch-1 latency (ms)", rows, [](const StageRow& r) { return std::optional<double>(r.metrics.latency_ms); },
                   [](double v) { return format("%.3f", v); }, "#c46a2f");
  html << tradeoffChart(rows);
  html << "</div>\n";

  const std::string layers = layerChart(original, last);
  if (!layers.empty()) html << "<h2>Layers</h2>\n" << layers << "\n";
  html << "<p class=\"sub\">Written by nncompress " << NNC_VERSION
       << ". Every number above was measured on the saved stage files; the JSON report beside this file has them all.</p>\n";
  html << "</body></html>\n";
  return html.str();
}

}  // namespace nnc
