// The monitoring server's renderings (Fluent Bit's JSON and Prometheus shapes) and the health rule.
#include "core/monitor/metrics.h"

#include <catch2/catch.hpp>

using namespace firelane;
using namespace firelane::monitor;

namespace {
Snapshot sample() {
  Snapshot s;
  InputMetrics in;
  in.name = "forward.0";
  in.plugin = "forward";
  in.records = 5;
  in.bytes = 500;
  in.connections = 2;
  in.errors["bad_tag"] = 1;
  s.inputs.push_back(in);
  FilterMetrics f;
  f.name = "grep.0";
  f.plugin = "grep";
  f.recordsIn = 5;
  f.dropped = 2;
  s.filters.push_back(f);
  OutputMetrics o;
  o.name = "my \"dd\"";
  o.plugin = "datadog";
  o.records = 3;
  o.bytes = 300;
  o.errors = 4;
  o.retries = 6;
  o.retriesFailed = 1;
  o.dropped = 7;
  o.queuedBytes = 42;
  o.reasons["http_503"] = 6;
  s.outputs.push_back(o);
  return s;
}
}  // namespace

TEST_CASE("monitor: JSON metrics use Fluent Bit's keys", "[monitor]") {
  CHECK(renderJson(sample()) ==
        R"({"input":{"forward.0":{"records":5,"bytes":500,"connections":2}},)"
        R"("filter":{"grep.0":{"drop_records":2,"add_records":0,"records":5}},)"
        R"("output":{"my \"dd\"":{"proc_records":3,"proc_bytes":300,"errors":4,"retries":6,"retries_failed":1,)"
        R"("dropped_records":7,"queued_bytes":42}}})");
  CHECK(renderJson(Snapshot{}) == R"({"input":{},"filter":{},"output":{}})");
}

TEST_CASE("monitor: Prometheus text has Fluent Bit's names and escaped labels", "[monitor]") {
  std::string text = renderPrometheus(sample(), 12.4);
  for (const char* line : {
           "fluentbit_uptime 12\n",
           "# TYPE fluentbit_input_records_total counter\n",
           "fluentbit_input_records_total{name=\"forward.0\"} 5\n",
           "fluentbit_input_bytes_total{name=\"forward.0\"} 500\n",
           "fluentbit_filter_drop_records_total{name=\"grep.0\"} 2\n",
           "fluentbit_output_proc_records_total{name=\"my \\\"dd\\\"\"} 3\n",
           "fluentbit_output_proc_bytes_total{name=\"my \\\"dd\\\"\"} 300\n",
           "fluentbit_output_errors_total{name=\"my \\\"dd\\\"\"} 4\n",
           "fluentbit_output_retries_total{name=\"my \\\"dd\\\"\"} 6\n",
           "fluentbit_output_retries_failed_total{name=\"my \\\"dd\\\"\"} 1\n",
           "fluentbit_output_dropped_records_total{name=\"my \\\"dd\\\"\"} 7\n",
           "firelane_input_connections{name=\"forward.0\"} 2\n",
           "firelane_input_errors_total{name=\"forward.0\",reason=\"bad_tag\"} 1\n",
           "firelane_output_queue_bytes{name=\"my \\\"dd\\\"\"} 42\n",
           "firelane_output_events_total{name=\"my \\\"dd\\\"\",reason=\"http_503\"} 6\n",
       }) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  }
  // Every sample line belongs to a family announced before it.
  size_t pos = 0;
  std::string lastType;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    REQUIRE(eol != std::string::npos);
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      lastType = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line[0] == '#') continue;
    INFO(line);
    CHECK(line.substr(0, lastType.size()) == lastType);
  }
}

TEST_CASE("monitor: uptime reads like Fluent Bit's", "[monitor]") {
  CHECK(renderUptime(93784) ==
        R"({"uptime_sec":93784,"uptime_hr":"Fluent Bit has been running:  1 day, 2 hour, 3 minute and 4 seconds"})");
  CHECK(renderUptime(0) ==
        R"({"uptime_sec":0,"uptime_hr":"Fluent Bit has been running:  0 day, 0 hour, 0 minute and 0 seconds"})");
}

TEST_CASE("monitor: health follows HC_Errors_Count and HC_Retry_Failure_Count within HC_Period", "[monitor]") {
  ServiceConfig svc;
  svc.healthCheck = true;
  svc.hcErrorsCount = 2;
  svc.hcRetryFailureCount = 1;
  svc.hcPeriod = 10;
  HealthTracker h(svc);
  CHECK(h.healthy());
  h.sample(100, 0, 0);
  h.sample(101, 2, 0);  // 2 errors: not more than allowed
  CHECK(h.healthy());
  h.sample(102, 3, 0);  // 3 errors in the period
  CHECK_FALSE(h.healthy());
  h.sample(111, 3, 0);  // the baseline moves to 101: one error within the period
  CHECK(h.healthy());
  h.sample(113, 3, 0);  // every error is older than the period now
  CHECK(h.healthy());
  h.sample(114, 3, 2);  // two failed retries > 1
  CHECK_FALSE(h.healthy());

  ServiceConfig off = svc;
  off.healthCheck = false;
  HealthTracker never(off);
  never.sample(1, 0, 0);
  never.sample(2, 100, 100);
  CHECK(never.healthy());
}
