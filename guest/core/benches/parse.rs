//! The guest's pure request logic, natively: parsing a head, and the whole decision for
//! a file (parse, decode, policy, stat, response head). Inside the sandbox the same code
//! runs as WebAssembly, a little slower; `host/benches/guest_boundary.rs` measures that.
//!
//! `cargo bench -p sandserve-core --bench parse`

use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use sandserve_core::request::Request;
use sandserve_core::{DirRoot, Policy, handle};

const CURL: &[u8] = b"GET /small.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
const BROWSER: &[u8] = b"GET /assets/style.css?v=3 HTTP/1.1\r\nHost: localhost:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/css,*/*;q=0.1\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\nReferer: http://localhost:8080/\r\nSec-Fetch-Dest: style\r\n\
Sec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\nIf-Modified-Since: Thu, 26 Nov 2026 08:00:00 GMT\r\n\r\n";

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("guest");
    group.bench_function("parse_curl_head", |b| {
        b.iter(|| Request::parse(CURL).unwrap())
    });
    group.bench_function("parse_browser_head", |b| {
        b.iter(|| Request::parse(BROWSER).unwrap())
    });
    let dir = std::env::temp_dir().join(format!("sandserve-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("small.html"), vec![b'x'; 1024]).unwrap();
    std::fs::write(dir.join("assets/style.css"), "body{}").unwrap();
    let root = DirRoot::new(&dir);
    let policy = Policy::default();
    group.bench_function("handle_curl_request", |b| {
        b.iter(|| handle(CURL, &policy, &root, SystemTime::now()))
    });
    group.bench_function("handle_browser_request", |b| {
        b.iter(|| handle(BROWSER, &policy, &root, SystemTime::now()))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, parse);
criterion_main!(benches);
