//! What the server counts, in Prometheus text format (the `prometheus-client` crate):
//! requests by method and status class, bytes sent, handler calls, traps and timeouts,
//! the time a handler instance took, open connections, swaps and rollbacks, and the
//! live handler of each slot as an info metric (`sandserve_handler_info{slot,sha256}`).
//!
//! Served on the admin socket and, with `--metrics ADDR`, on a TCP port of its own
//! (`admin`); counting is a few atomic adds per request, off any lock.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The method is a bounded label: any token but the seven below is `other`, so that a
/// client cannot make the server keep a series per invented method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    class: &'static str,
    /// `http1` or `http2`: what the client spoke.
    protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SwapLabels {
    /// `swapped`, `unchanged` or `refused`, as the swap report says.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerLabels {
    /// `/` for `--handler`'s slot, else the `--mount` prefix.
    slot: String,
    sha256: String,
}

/// Every metric, registered once at start.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes: Counter,
    calls: Counter,
    traps: Counter,
    timeouts: Counter,
    busy: Counter,
    accept_paused: Counter,
    instance_time: Histogram,
    connections: Gauge,
    swaps: Family<SwapLabels, Counter>,
    rollbacks: Counter,
    handler: Family<HandlerLabels, Gauge>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("sandserve");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Responses sent, by request method, status class and protocol",
            requests.clone(),
        );
        let bytes = Counter::default();
        registry.register_with_unit(
            "sent",
            "Bytes of responses sent, heads and bodies",
            Unit::Bytes,
            bytes.clone(),
        );
        let calls = Counter::default();
        registry.register("handler_calls", "Handler instances called", calls.clone());
        let traps = Counter::default();
        registry.register(
            "handler_traps",
            "Handler calls that trapped, ran out of memory or time (a 500)",
            traps.clone(),
        );
        let timeouts = Counter::default();
        registry.register(
            "handler_timeouts",
            "Handler calls stopped at --handler-timeout, running or waiting (counted in traps too)",
            timeouts.clone(),
        );
        let busy = Counter::default();
        registry.register(
            "busy",
            "Requests answered 503 because no handler instance or descriptor was free",
            busy.clone(),
        );
        let accept_paused = Counter::default();
        registry.register(
            "accept_paused",
            "Times accepting paused because the process was out of descriptors",
            accept_paused.clone(),
        );
        // 25 us to ~13 s: from the built-in handler's tens of microseconds to a cold
        // Python instance and a timeout.
        let instance_time = Histogram::new(exponential_buckets(25e-6, 2.0, 20));
        registry.register_with_unit(
            "handler_instance",
            "Time from instantiating a handler to its checked answer",
            Unit::Seconds,
            instance_time.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connections_active",
            "Client connections open now",
            connections.clone(),
        );
        let swaps = Family::<SwapLabels, Counter>::default();
        registry.register("swaps", "Handler swaps, by outcome", swaps.clone());
        let rollbacks = Counter::default();
        registry.register(
            "rollbacks",
            "Rollbacks, asked for or automatic",
            rollbacks.clone(),
        );
        let handler = Family::<HandlerLabels, Gauge>::default();
        registry.register(
            "handler_info",
            "The live handler version of each slot (value 1)",
            handler.clone(),
        );
        Metrics {
            registry,
            requests,
            bytes,
            calls,
            traps,
            timeouts,
            busy,
            accept_paused,
            instance_time,
            connections,
            swaps,
            rollbacks,
            handler,
        }
    }

    /// One response sent: its request's method, its status, its size on the wire, and
    /// whether it went over HTTP/2.
    pub fn response(&self, method: &[u8], status: u16, bytes: u64, http2: bool) {
        let method = match method {
            b"GET" => "GET",
            b"HEAD" => "HEAD",
            b"OPTIONS" => "OPTIONS",
            b"POST" => "POST",
            b"PUT" => "PUT",
            b"DELETE" => "DELETE",
            b"PATCH" => "PATCH",
            _ => "other",
        };
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                method,
                class,
                protocol: if http2 { "http2" } else { "http1" },
            })
            .inc();
        self.bytes.inc_by(bytes);
    }

    /// One handler call, how long it took, and whether it trapped or timed out.
    pub fn call(&self, seconds: f64, trapped: bool, timed_out: bool) {
        self.calls.inc();
        self.instance_time.observe(seconds);
        if trapped {
            self.traps.inc();
        }
        if timed_out {
            self.timeouts.inc();
        }
    }

    /// A request answered 503 because the server had no instance or descriptor free.
    pub fn busy(&self) {
        self.busy.inc();
    }

    /// Accepting paused for lack of descriptors.
    pub fn accept_paused(&self) {
        self.accept_paused.inc();
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    pub fn swap(&self, outcome: &str) {
        self.swaps
            .get_or_create(&SwapLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn rollback(&self) {
        self.rollbacks.inc();
    }

    /// The text exposition, with `live` — each slot's name and live version's sha256 —
    /// as the handler info metric (rebuilt each time, so a swapped-out version's series
    /// goes away).
    pub fn encode(&self, live: &[(String, String)]) -> String {
        self.handler.clear();
        for (slot, sha256) in live {
            self.handler
                .get_or_create(&HandlerLabels {
                    slot: slot.clone(),
                    sha256: sha256.clone(),
                })
                .set(1);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
