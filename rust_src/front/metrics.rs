//! The front's Prometheus metrics, written after the workers' own at the app's
//! metrics URL (prometheus-client's text encoding, without the OpenMetrics `# EOF`, so
//! the two parts read as one exposition).

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The kernel for a native answer; `proxied`, `health`, `metrics` otherwise.
    pub handler: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabels {
    pub handler: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShadowLabels {
    pub kernel: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// Every counter and histogram of the front.
pub struct FrontMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    seconds: Family<HandlerLabels, Histogram>,
    shadow: Family<ShadowLabels, Counter>,
    refused: Family<ReasonLabels, Counter>,
    access_log_dropped: Counter,
}

fn latency() -> Histogram {
    // 50 µs to about 13 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 19))
}

impl Default for FrontMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rustpath_front");
        let requests = Family::<RequestLabels, Counter>::default();
        let seconds =
            Family::<HandlerLabels, Histogram>::new_with_constructor(latency as fn() -> Histogram);
        let shadow = Family::<ShadowLabels, Counter>::default();
        let refused = Family::<ReasonLabels, Counter>::default();
        let access_log_dropped = Counter::default();
        registry.register(
            "requests",
            "Requests the front answered, by handler (a kernel answered natively, or proxied) and status",
            requests.clone(),
        );
        registry.register(
            "request_seconds",
            "Time from the request's head to the response's head, by handler",
            seconds.clone(),
        );
        registry.register(
            "shadow",
            "Native answers compared with the app's /python answer, by outcome",
            shadow.clone(),
        );
        registry.register(
            "refused",
            "Requests the front answered itself with an error, by reason",
            refused.clone(),
        );
        registry.register(
            "access_log_dropped",
            "Access-log lines dropped because stdout fell too far behind",
            access_log_dropped.clone(),
        );
        Self {
            registry,
            requests,
            seconds,
            shadow,
            refused,
            access_log_dropped,
        }
    }
}

impl FrontMetrics {
    pub fn request(&self, handler: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                handler: handler.to_owned(),
                status,
            })
            .inc();
        self.seconds
            .get_or_create(&HandlerLabels {
                handler: handler.to_owned(),
            })
            .observe(seconds);
    }

    /// The counter of `handler`'s 200s and its latency histogram, for a caller that
    /// counts often and would rather not look them up each time.
    #[must_use]
    pub fn ok_handles(&self, handler: &str) -> (Counter, Histogram) {
        let counter = self
            .requests
            .get_or_create(&RequestLabels {
                handler: handler.to_owned(),
                status: 200,
            })
            .clone();
        let histogram = self
            .seconds
            .get_or_create(&HandlerLabels {
                handler: handler.to_owned(),
            })
            .clone();
        (counter, histogram)
    }

    pub fn shadow(&self, kernel: &str, outcome: &str) {
        self.shadow
            .get_or_create(&ShadowLabels {
                kernel: kernel.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn refused(&self, reason: &str) {
        self.refused
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts the access-log lines a full buffer turned away.
    #[must_use]
    pub fn access_log_dropped(&self) -> Counter {
        self.access_log_dropped.clone()
    }

    /// The front's part of the exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut text = String::new();
        if encode_registry(&mut text, &self.registry).is_err() {
            text.clear();
        }
        // OpenMetrics names a counter family without `_total`; the Prometheus text
        // format this page is served as (and the workers' part uses) names it with.
        for family in ["requests", "shadow", "refused", "access_log_dropped"] {
            let name = format!("rustpath_front_{family}");
            for kind in ["HELP", "TYPE"] {
                text = text.replace(
                    &format!("# {kind} {name} "),
                    &format!("# {kind} {name}_total "),
                );
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_as_prometheus_text() {
        let metrics = FrontMetrics::default();
        metrics.request("sum_of_primes", 200, 0.0001);
        metrics.shadow("sum_of_primes", "match");
        metrics.refused("malformed");
        let text = metrics.render();
        assert!(
            text.contains(
                "rustpath_front_requests_total{handler=\"sum_of_primes\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("rustpath_front_request_seconds_count{handler=\"sum_of_primes\"} 1"),
            "{text}"
        );
        assert!(text
            .contains("rustpath_front_shadow_total{kernel=\"sum_of_primes\",outcome=\"match\"} 1"));
        assert!(text.contains("rustpath_front_refused_total{reason=\"malformed\"} 1"));
        assert!(!text.contains("# EOF"));
        assert!(
            text.contains("# TYPE rustpath_front_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE rustpath_front_request_seconds histogram\n"),
            "{text}"
        );
    }
}
