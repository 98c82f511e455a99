// The pipeline's HTML report (src/pipeline/html_report.cpp): self-contained (no scripts, no
// network), its numbers are the JSON report's, and headless Chromium renders it with the charts
// drawn: the screenshot (kept at build/tests/pipeline_report.png for people to look at) holds
// the colors of the size, accuracy and latency bars. Chromium is a test package of
// tools/bootstrap.sh; without it the rendering test skips unless NNC_REQUIRE_CHROMIUM=1.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stb/stb_image.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "test_util.h"

namespace nnc {
namespace fs = std::filesystem;
namespace {

using test::modelsDir;
using test::quote;
using test::shell;

class PipelineHtmlReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(test::makeTempDir());
    const std::string data = " --data " + quote(modelsDir() + "/data/fashion_mnist_test_2000_x.npy") + " --labels " +
                             quote(modelsDir() + "/data/fashion_mnist_test_2000_y.npy") + " --scale 1/255 --limit 500";
    auto r = shell(quote(NNC_BINARY) + " -q pipeline " + quote(modelsDir() + "/mlp.onnx") + " -o " + quote(*dir_ + "/out.onnx") +
                   " --passes 'prune-channels{granularity=neuron,sparsity=0.25},quantize' --calib-data " +
                   quote(modelsDir() + "/data/fashion_mnist_calib_500_x.npy") + data + " --latency-runs 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string html() { return test::readFile(*dir_ + "/out.report.html"); }
  static std::string* dir_;
};
std::string* PipelineHtmlReport::dir_ = nullptr;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(PipelineHtmlReport, IsSelfContainedAndShowsTheJsonNumbers) {
  const std::string page = html();
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(count(page, "<svg"), 5u) << "size, accuracy, latency, accuracy vs size, layers";
  const auto report = nlohmann::json::parse(test::readFile(*dir_ + "/out.report.json"));
  for (const auto& row : report["rows"]) {
    char accuracy[32];
    std::snprintf(accuracy, sizeof accuracy, "%.2f%%", 100 * row["accuracy"].get<double>());
    EXPECT_NE(page.find(accuracy), std::string::npos) << accuracy;
    EXPECT_NE(page.find(row["summary"].get<std::string>().substr(0, 20)), std::string::npos);
  }
  // Every layer of the original appears in the per-layer chart, with the final parameter count.
  for (const auto& layer : report["rows"].back()["layers"])
    if (layer["params"].get<int64_t>() > 100) EXPECT_NE(page.find(layer["name"].get<std::string>()), std::string::npos);
}

TEST_F(PipelineHtmlReport, RendersInHeadlessChromium) {
  const char* browser = nullptr;
  for (const char* candidate : {"chromium", "chromium-browser", "google-chrome"})
    if (shell(std::string("command -v ") + candidate).exit_code == 0) {
      browser = candidate;
      break;
    }
  if (browser == nullptr) {
    const char* require = std::getenv("NNC_REQUIRE_CHROMIUM");
    if (require && std::string(require) == "1") FAIL() << "NNC_REQUIRE_CHROMIUM=1 but no chromium";
    GTEST_SKIP() << "no chromium (tools/bootstrap.sh --test installs it)";
  }
  const std::string png = (fs::current_path() / "pipeline_report.png").string();
  fs::remove(png);
  auto r = shell(std::string(browser) + " --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1700 --screenshot=" +
                 quote(png) + " " + quote("file://" + *dir_ + "/out.report.html"));
  ASSERT_TRUE(fs::exists(png)) << r.err;
  int w = 0, h = 0, channels = 0;
  unsigned char* pixels = stbi_load(png.c_str(), &w, &h, &channels, 3);
  ASSERT_NE(pixels, nullptr);
  // Pixels of each chart's color: the size bars (#2f5fd0), accuracy bars (#2c9a5b), latency
  // bars (#c46a2f). A page that failed to render, or charts without bars, have none.
  auto pixelsOf = [&](int red, int green, int blue) {
    int64_t n = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(w) * h; ++i)
      n += std::abs(pixels[3 * i] - red) < 8 && std::abs(pixels[3 * i + 1] - green) < 8 && std::abs(pixels[3 * i + 2] - blue) < 8;
    return n;
  };
  const int64_t blue = pixelsOf(0x2f, 0x5f, 0xd0), green = pixelsOf(0x2c, 0x9a, 0x5b), orange = pixelsOf(0xc4, 0x6a, 0x2f);
  stbi_image_free(pixels);
  EXPECT_GT(blue, 2000);
  EXPECT_GT(green, 2000);
  EXPECT_GT(orange, 500);
  std::printf("screenshot: %s (%dx%d)\n", png.c_str(), w, h);
}

}  // namespace
}  // namespace nnc
