#include "collector/exporter_collectable.h"

#include <atomic>
#include <functional>
#include <future>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "catch_compat.h"
#include "collector/domain_memory_collector.h"
#include "collector/node_memory_collector.h"
#include "test_support.h"

namespace lme {
namespace {

using prometheus::MetricFamily;

// Faults a real libvirt cannot produce on demand: throwing sources.
class FakeSource : public DomainMemorySource {
 public:
  std::function<std::vector<DomainMemory>()> fetch;
  std::atomic<int> calls{0};
  std::vector<DomainMemory> FetchDomainMemory(Deadline) override {
    ++calls;
    return fetch();
  }
  std::uint64_t DefinitionReads() const override { return 0; }
};

class ThrowingCollector : public Collector {
 public:
  bool Update(Deadline, MetricSet& out) override {
    out.AddSingle("half_written", "", MetricType::Gauge, 1);
    throw std::runtime_error("extra collector broke");
  }
};

// Counts its calls: a disabled collector must make none.
class CountingNodeSource : public NodeMemorySource {
 public:
  std::atomic<int> calls{0};
  NodeMemory FetchNodeMemory(Deadline) override {
    ++calls;
    NodeMemory node;
    node.total_kib = 1024;
    return node;
  }
};

Deadline Soon() {
  return std::chrono::steady_clock::now() + std::chrono::seconds(5);
}

std::vector<MetricFamily> Scrape(const ExporterCollectable& collectable,
                                 const CollectorSelection& selection,
                                 Deadline deadline = Soon()) {
  REQUIRE(selection.error.empty());
  return ToMetricFamilies(*collectable.Collect(deadline, selection));
}

struct Harness {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  FakeSource source;
  DomainMemoryCollector domain_memory{source, logger};
  ExporterCollectable collectable{
      {{"domain_memory", &domain_memory}}, {"1.2.3", "9.0.0"}, logger};

  std::vector<MetricFamily> Scrape(Deadline deadline = Soon()) {
    return lme::Scrape(collectable, collectable.SelectAll(), deadline);
  }
};

double GaugeValue(const std::vector<MetricFamily>& families,
                  const std::string& name) {
  const MetricFamily* family = Find(families, name);
  REQUIRE(family != nullptr);
  REQUIRE(family->metric.size() == 1);
  return family->metric[0].gauge.value;
}

std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + 1)) {
    ++count;
  }
  return count;
}

TEST_CASE("a working source gives libvirt_up 1 and its domains", "[collect]") {
  Harness h;
  h.source.fetch = [] {
    return std::vector<DomainMemory>{Running("a", "u1", Reporting(10, 4)),
                                     Running("b", "u2", MemoryStats{})};
  };
  const auto families = h.Scrape();
  CHECK(GaugeValue(families, "libvirt_up") == 1);
  CHECK(GaugeValue(families, "libvirt_domains") == 2);
  CHECK(GaugeValue(families,
                   "libvirt_memory_exporter_scrape_collector_success") == 1);
  CHECK(Find(families, "libvirt_domain_memory_stats_used_bytes") != nullptr);
  const MetricFamily* build =
      Find(families, "libvirt_memory_exporter_build_info");
  REQUIRE(build != nullptr);
  CHECK(build->metric[0].label[0].value == "9.0.0");
  CHECK(build->metric[0].label[1].value == "1.2.3");
}

TEST_CASE("libvirt unreachable becomes libvirt_up 0, logged once",
          "[collect]") {
  Harness h;
  h.source.fetch = []() -> std::vector<DomainMemory> {
    throw LibvirtUnavailable("cannot open libvirt URI qemu:///nowhere");
  };
  for (int scrape = 0; scrape < 3; ++scrape) {
    const auto families = h.Scrape();
    CHECK(GaugeValue(families, "libvirt_up") == 0);
    CHECK(GaugeValue(families,
                     "libvirt_memory_exporter_scrape_collector_success") == 0);
    CHECK(Find(families, "libvirt_domains") == nullptr);
    CHECK(Find(families, "libvirt_memory_exporter_build_info") != nullptr);
  }
  CHECK(Count(h.log.str(), "level=error msg=\"collector failed\"") == 1);
  CHECK(h.log.str().find("qemu:///nowhere") != std::string::npos);

  h.source.fetch = [] { return std::vector<DomainMemory>{}; };
  CHECK(GaugeValue(h.Scrape(), "libvirt_up") == 1);
  CHECK(Count(h.log.str(), "msg=\"collector recovered\"") == 1);
}

TEST_CASE("no exception escapes a scrape", "[collect]") {
  Harness h;
  SECTION("std::exception") {
    h.source.fetch = []() -> std::vector<DomainMemory> {
      throw std::logic_error("bug");
    };
  }
  SECTION("not derived from std::exception") {
    h.source.fetch = []() -> std::vector<DomainMemory> { throw 42; };
  }
  std::vector<MetricFamily> families;
  REQUIRE_NOTHROW(families = h.Scrape());
  CHECK(GaugeValue(families, "libvirt_up") == 0);
}

TEST_CASE("a failing extra collector does not touch libvirt_up", "[collect]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  FakeSource source;
  source.fetch = [] { return std::vector<DomainMemory>{}; };
  DomainMemoryCollector domain_memory(source, logger);
  ThrowingCollector failing;
  ExporterCollectable collectable(
      {{"domain_memory", &domain_memory}, {"always_failing", &failing}},
      {"v", "l"}, logger);
  const auto families = Scrape(collectable, collectable.SelectAll());
  CHECK(GaugeValue(families, "libvirt_up") == 1);
  CHECK(Find(families, "half_written") == nullptr);
  const MetricFamily* success =
      Find(families, "libvirt_memory_exporter_scrape_collector_success");
  REQUIRE(success != nullptr);
  REQUIRE(success->metric.size() == 2);
  CHECK(success->metric[0].label[0].value == "domain_memory");
  CHECK(success->metric[0].gauge.value == 1);
  CHECK(success->metric[1].label[0].value == "always_failing");
  CHECK(success->metric[1].gauge.value == 0);
  CHECK(Find(families,
             "libvirt_memory_exporter_scrape_collector_duration_seconds")
            ->metric.size() == 2);
}

TEST_CASE("without libvirt the other collectors are not run", "[collect]") {
  std::ostringstream log;
  Logger logger(LogLevel::kInfo, log);
  FakeSource source;
  source.fetch = []() -> std::vector<DomainMemory> {
    throw LibvirtUnavailable("down");
  };
  DomainMemoryCollector domain_memory(source, logger);
  ThrowingCollector failing;
  ExporterCollectable collectable(
      {{"domain_memory", &domain_memory}, {"always_failing", &failing}},
      {"v", "l"}, logger);
  const auto families = Scrape(collectable, collectable.SelectAll());
  const MetricFamily* success =
      Find(families, "libvirt_memory_exporter_scrape_collector_success");
  REQUIRE(success->metric.size() == 2);
  CHECK(success->metric[1].gauge.value == 0);
  CHECK(log.str().find("extra collector broke") == std::string::npos);
}

TEST_CASE("a bogus report is logged once while it lasts", "[collect]") {
  Harness h;
  h.source.fetch = [] {
    return std::vector<DomainMemory>{
        Running("liar", "u1", Reporting(100, 200))};
  };
  h.Scrape();
  const auto families = h.Scrape();
  CHECK(Find(families, "libvirt_domain_memory_stats_used_bytes") == nullptr);
  CHECK(Count(h.log.str(), "more unused than available") == 1);
  CHECK(h.log.str().find("domain=liar") != std::string::npos);

  h.source.fetch = [] {
    return std::vector<DomainMemory>{Running("liar", "u1", Reporting(100, 50))};
  };
  h.Scrape();
  h.source.fetch = [] {
    return std::vector<DomainMemory>{
        Running("liar", "u1", Reporting(100, 200))};
  };
  h.Scrape();
  CHECK(Count(h.log.str(), "more unused than available") == 2);
}

TEST_CASE("self metrics come first, in a fixed order", "[collect]") {
  Harness h;
  h.source.fetch = [] {
    return std::vector<DomainMemory>{Running("a", "u1", Reporting(10, 4))};
  };
  const auto families = h.Scrape();
  REQUIRE(families.size() >= 6);
  CHECK(families[0].name == "libvirt_up");
  CHECK(families[1].name ==
        "libvirt_memory_exporter_scrape_collector_duration_seconds");
  CHECK(families[2].name == "libvirt_memory_exporter_scrape_collector_success");
  CHECK(families[3].name == "libvirt_memory_exporter_build_info");
  CHECK(families[4].name == "libvirt_memory_exporter_collections_total");
  CHECK(families[5].name == "libvirt_domains");
}

TEST_CASE("a partial answer keeps its series but fails the collector",
          "[collect]") {
  Harness h;
  h.source.fetch = [] {
    DomainMemory stuck = Running("stuck", "u1");
    stuck.timed_out = true;
    return std::vector<DomainMemory>{Running("fine", "u2", Reporting(10, 4)),
                                     stuck};
  };
  const auto families = h.Scrape();
  CHECK(GaugeValue(families, "libvirt_up") == 1);
  CHECK(GaugeValue(families,
                   "libvirt_memory_exporter_scrape_collector_success") == 0);
  const MetricFamily* timed_out =
      Find(families, "libvirt_domain_memory_stats_timed_out");
  REQUIRE(timed_out != nullptr);
  REQUIRE(timed_out->metric.size() == 2);
  CHECK(timed_out->metric[0].label[0].value == "fine");
  CHECK(timed_out->metric[0].gauge.value == 0);
  CHECK(timed_out->metric[1].gauge.value == 1);
  CHECK(
      Find(families, "libvirt_domain_memory_stats_used_bytes")->metric.size() ==
      1);
  CHECK(h.log.str().find("did not answer in time") != std::string::npos);
}

// A fetch that blocks until the test lets it go: the stuck QEMU monitor a
// real libvirt shows only with a stopped guest.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();

  // A fetch that answers `domains` once the gate is open.
  std::function<std::vector<DomainMemory>()> Fetch(
      std::vector<DomainMemory> domains = {}) const {
    return [opened = opened, domains = std::move(domains)] {
      opened.wait();
      return domains;
    };
  }
};

// Until a scrape started on another thread is inside the gated fetch.
void WaitForFetch(const std::atomic<int>& calls) {
  while (calls.load() == 0) std::this_thread::yield();
}

TEST_CASE("concurrent scrapes share one collection", "[collect]") {
  Harness h;
  Gate gate;
  h.source.fetch = gate.Fetch({Running("a", "u1", Reporting(10, 4))});
  const Deadline far =
      std::chrono::steady_clock::now() + std::chrono::minutes(1);
  auto first = std::async(std::launch::async, [&] { return h.Scrape(far); });
  WaitForFetch(h.source.calls);
  std::vector<std::future<std::vector<MetricFamily>>> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(
        std::async(std::launch::async, [&] { return h.Scrape(far); }));
  }
  // Give the waiters a chance to queue behind the collection in flight.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate.open.set_value();
  CHECK(GaugeValue(first.get(), "libvirt_domains") == 1);
  for (auto& waiter : waiters) {
    const auto families = waiter.get();
    CHECK(GaugeValue(families, "libvirt_domains") == 1);
  }
  CHECK(h.source.calls.load() == 1);
  CHECK(Find(h.Scrape(), "libvirt_memory_exporter_collections_total")
            ->metric[0]
            .counter.value == 2);
}

// Waiters used to read "the last result", which the next collection could
// replace (or clear) before they woke: a null answer under load.
TEST_CASE("every scrape gets the collection it waited for under churn",
          "[collect]") {
  Harness h;
  h.source.fetch = [] {
    return std::vector<DomainMemory>{Running("a", "u1", Reporting(10, 4))};
  };
  const Deadline far =
      std::chrono::steady_clock::now() + std::chrono::minutes(1);
  std::vector<std::future<int>> scrapers;
  for (int t = 0; t < 6; ++t) {
    scrapers.push_back(std::async(std::launch::async, [&] {
      int complete = 0;
      for (int i = 0; i < 300; ++i) {
        const auto set = h.collectable.Collect(far, h.collectable.SelectAll());
        if (set && !set->families().empty()) ++complete;
      }
      return complete;
    }));
  }
  for (auto& scraper : scrapers) CHECK(scraper.get() == 300);
}

TEST_CASE("a scrape stops waiting for a shared collection at its deadline",
          "[collect]") {
  Harness h;
  Gate gate;
  h.source.fetch = gate.Fetch();
  auto first = std::async(std::launch::async, [&] {
    return h.Scrape(std::chrono::steady_clock::now() + std::chrono::minutes(1));
  });
  WaitForFetch(h.source.calls);
  const auto impatient = h.Scrape(std::chrono::steady_clock::now() +
                                  std::chrono::milliseconds(20));
  CHECK(GaugeValue(impatient, "libvirt_up") == 0);
  CHECK(GaugeValue(impatient,
                   "libvirt_memory_exporter_scrape_collector_success") == 0);
  gate.open.set_value();
  CHECK(GaugeValue(first.get(), "libvirt_up") == 1);
}

// What JoinInFlight hands its joiners, and how often.
struct Joined {
  std::mutex mutex;
  std::vector<std::shared_ptr<const MetricSet>> results;
  ExporterCollectable::Joiner Joiner() {
    return [this](std::shared_ptr<const MetricSet> result) {
      std::lock_guard<std::mutex> lock(mutex);
      results.push_back(std::move(result));
    };
  }
  std::size_t Count() {
    std::lock_guard<std::mutex> lock(mutex);
    return results.size();
  }
};

TEST_CASE("scrapes join the collection in flight without waiting",
          "[collect]") {
  Harness h;
  Gate gate;
  h.source.fetch = gate.Fetch({Running("a", "u1", Reporting(10, 4))});
  const auto all = h.collectable.SelectAll();
  const auto now = std::chrono::steady_clock::now();
  Joined joined;
  // Nothing in flight: the caller must collect itself.
  CHECK_FALSE(
      h.collectable.JoinInFlight(now + std::chrono::minutes(1), all, {}));
  auto leader = std::async(std::launch::async, [&] {
    return h.collectable.Collect(now + std::chrono::seconds(30), all);
  });
  WaitForFetch(h.source.calls);
  // Returns at once, whatever the collection does.
  for (int i = 0; i < 3; ++i) {
    CHECK(h.collectable.JoinInFlight(now + std::chrono::minutes(1), all,
                                     joined.Joiner()));
  }
  // A scrape that must answer before the collection is due to end cannot
  // count on it, and other selections are other collections.
  CHECK_FALSE(h.collectable.JoinInFlight(now + std::chrono::seconds(1), all,
                                         joined.Joiner()));
  CHECK_FALSE(h.collectable.JoinInFlight(
      now + std::chrono::minutes(1),
      h.collectable.Select({}, {"domain_memory"}), joined.Joiner()));
  CHECK(joined.Count() == 0);
  gate.open.set_value();
  const auto result = leader.get();
  REQUIRE(joined.Count() == 3);
  for (const auto& shared : joined.results) CHECK(shared == result);
  CHECK(h.source.calls.load() == 1);
}

// Three collectors as the exporter has them; node memory switched on or off.
struct Switched {
  std::ostringstream log;
  Logger logger{LogLevel::kDebug, log};
  FakeSource domains;
  CountingNodeSource node;
  DomainMemoryCollector domain_memory{domains, logger};
  NodeMemoryCollector node_memory{node};
  ExporterCollectable collectable;

  explicit Switched(bool node_enabled)
      : collectable({{"domain_memory", &domain_memory},
                     {"node_memory", node_enabled ? &node_memory : nullptr},
                     {"openstack_metadata", nullptr}},
                    {"v", "l"}, logger) {
    domains.fetch = [] {
      return std::vector<DomainMemory>{Running("a", "u1", Reporting(10, 4))};
    };
  }
};

std::vector<std::string> CollectorsIn(
    const std::vector<MetricFamily>& families) {
  std::vector<std::string> names;
  const MetricFamily* success =
      Find(families, "libvirt_memory_exporter_scrape_collector_success");
  if (success == nullptr) return names;
  for (const auto& metric : success->metric) {
    names.push_back(metric.label.at(0).value);
  }
  return names;
}

using Names = std::vector<std::string>;

TEST_CASE("a disabled collector costs no libvirt call", "[collect][switch]") {
  Switched s(false);
  const auto families = Scrape(s.collectable, s.collectable.SelectAll());
  CHECK(s.node.calls.load() == 0);
  CHECK(s.domains.calls.load() == 1);
  CHECK(CollectorsIn(families) == Names{"domain_memory"});
  CHECK(Find(families, "libvirt_node_memory_total_bytes") == nullptr);
  // Nor can a URL ask for it.
  const auto refused = s.collectable.Select({"node_memory"}, {});
  CHECK(refused.error.find("disabled collector 'node_memory'") !=
        std::string::npos);
  CHECK(s.node.calls.load() == 0);
}

TEST_CASE("collect[] and exclude[] pick the collectors of one scrape",
          "[collect][switch]") {
  Switched s(true);
  auto families =
      Scrape(s.collectable, s.collectable.Select({"node_memory"}, {}));
  CHECK(CollectorsIn(families) == Names{"node_memory"});
  CHECK(s.domains.calls.load() == 0);  // excluded: not asked
  CHECK(GaugeValue(families, "libvirt_up") == 1);
  CHECK(Find(families, "libvirt_node_memory_total_bytes") != nullptr);
  CHECK(Find(families, "libvirt_domains") == nullptr);

  families = Scrape(s.collectable, s.collectable.Select({}, {"node_memory"}));
  CHECK(CollectorsIn(families) == Names{"domain_memory"});
  CHECK(s.node.calls.load() == 1);

  families = Scrape(s.collectable, s.collectable.SelectAll());
  CHECK(CollectorsIn(families) == Names{"domain_memory", "node_memory"});

  // Nothing selected: no libvirt call, so nothing to say about libvirt.
  families = Scrape(s.collectable,
                    s.collectable.Select({}, {"domain_memory", "node_memory"}));
  CHECK(CollectorsIn(families).empty());
  CHECK(Find(families, "libvirt_up") == nullptr);
  CHECK(Find(families, "libvirt_memory_exporter_build_info") != nullptr);
  CHECK(s.domains.calls.load() == 2);
  CHECK(s.node.calls.load() == 2);
}

TEST_CASE("scrapes with different selections do not share a collection",
          "[collect][switch]") {
  Switched s(true);
  Gate gate;
  s.domains.fetch = gate.Fetch({Running("a", "u1", Reporting(10, 4))});
  const Deadline far =
      std::chrono::steady_clock::now() + std::chrono::minutes(1);
  auto everything = std::async(std::launch::async, [&] {
    return Scrape(s.collectable, s.collectable.SelectAll(), far);
  });
  WaitForFetch(s.domains.calls);
  auto node_only = std::async(std::launch::async, [&] {
    return Scrape(s.collectable, s.collectable.Select({"node_memory"}, {}),
                  far);
  });
  auto same = std::async(std::launch::async, [&] {
    return Scrape(s.collectable, s.collectable.SelectAll(), far);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // One collection at a time: the node-only one waits for its turn.
  CHECK(s.node.calls.load() == 0);
  gate.open.set_value();
  CHECK(CollectorsIn(everything.get()) ==
        Names{"domain_memory", "node_memory"});
  CHECK(CollectorsIn(same.get()) == Names{"domain_memory", "node_memory"});
  const auto node_families = node_only.get();
  CHECK(CollectorsIn(node_families) == Names{"node_memory"});
  CHECK(Find(node_families, "libvirt_domains") == nullptr);
  CHECK(s.domains.calls.load() == 1);  // the equal selection shared it
  CHECK(s.node.calls.load() == 2);     // each selection ran its own
}

TEST_CASE("a scrape gives up waiting for another selection's collection",
          "[collect][switch]") {
  Switched s(true);
  Gate gate;
  s.domains.fetch = gate.Fetch();
  auto first = std::async(std::launch::async, [&] {
    return Scrape(s.collectable, s.collectable.SelectAll(),
                  std::chrono::steady_clock::now() + std::chrono::minutes(1));
  });
  WaitForFetch(s.domains.calls);
  const auto impatient =
      Scrape(s.collectable, s.collectable.Select({"node_memory"}, {}),
             std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
  CHECK(GaugeValue(impatient, "libvirt_up") == 0);
  CHECK(CollectorsIn(impatient) == Names{"node_memory"});
  CHECK(s.node.calls.load() == 0);
  gate.open.set_value();
  CHECK(GaugeValue(first.get(), "libvirt_up") == 1);
}

TEST_CASE("joiners of a collection that never got its turn answer without it",
          "[collect][switch]") {
  Switched s(true);
  Gate gate;
  s.domains.fetch = gate.Fetch();
  const auto now = std::chrono::steady_clock::now();
  auto first = std::async(std::launch::async, [&] {
    return Scrape(s.collectable, s.collectable.SelectAll(),
                  now + std::chrono::minutes(1));
  });
  WaitForFetch(s.domains.calls);
  const auto node_only = s.collectable.Select({"node_memory"}, {});
  auto waiting = std::async(std::launch::async, [&] {
    return s.collectable.Collect(now + std::chrono::milliseconds(300),
                                 node_only);
  });
  Joined joined;
  while (!s.collectable.JoinInFlight(now + std::chrono::seconds(1), node_only,
                                     joined.Joiner())) {
    std::this_thread::yield();
  }
  const auto gave_up = waiting.get();
  REQUIRE(joined.Count() == 1);
  CHECK(joined.results[0] == gave_up);
  CHECK(GaugeValue(ToMetricFamilies(*gave_up), "libvirt_up") == 0);
  CHECK(s.node.calls.load() == 0);
  gate.open.set_value();
  first.get();
}

}  // namespace
}  // namespace lme
