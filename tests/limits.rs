//! Clients that misbehave or simply come in numbers: slowloris, clients that stop
//! reading, connections over the caps, 500 connections at once, and a shutdown in the
//! middle of all that. Each limit holds without costing other clients their answers.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Client, Server, pattern, site, write};

#[test]
fn slowloris_does_not_delay_other_clients() {
    let site = site();
    let server = Server::start(&site.root, &[]);
    // 300 connections, each sending its head a byte at a time, round after round.
    let head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\nX-Pad: aaaaaaaaaa\r\n";
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    for at in 0..20 {
        for stream in &mut slow {
            stream.write_all(&head[at..at + 1]).unwrap();
        }
    }
    // A new client is answered while every slow head is still incomplete and open.
    for _ in 0..5 {
        let r = server.get("/a.txt");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello from a\n"[..]));
    }
    for (i, stream) in slow.iter_mut().enumerate() {
        stream.write_all(&head[20..21]).unwrap();
        stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let pending = stream.read(&mut byte);
        assert!(
            matches!(&pending, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "slow connection {i} was answered or closed early: {pending:?}"
        );
    }
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_send_timeout() {
    let site = site();
    let big = pattern(32 << 20);
    write(&site.root, "big.bin", &big);
    let server = Server::start(&site.root, &["--send-timeout", "1s"]);
    let mut stalled = server.connect();
    stalled.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    // The log says why the connection went, once the socket buffers stayed full for 1 s.
    let log = server.wait_for_log("took no bytes for 1s");
    assert!(log.contains("took no bytes for 1s"), "{log}");
    // Others are served meanwhile and after.
    assert_eq!(server.get("/a.txt").body, b"hello from a\n");
    // What the stalled client can still read ends early: the server closed.
    let got = stalled.read_to_close();
    assert!(
        got.len() < big.len(),
        "all {} bytes arrived; nothing was cut",
        got.len()
    );
}

#[test]
fn a_connection_carries_at_most_max_requests() {
    let site = site();
    let server = Server::start(&site.root, &["--max-requests", "3"]);
    let mut client = server.connect();
    client.send(&b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".repeat(5));
    for i in 1..=3 {
        let r = client.response(false);
        assert_eq!(r.body, b"hello from a\n");
        let expected = if i == 3 { "close" } else { "keep-alive" };
        assert_eq!(r.header("connection").unwrap_or("keep-alive"), expected);
    }
    assert!(client.closed(), "a fourth request was read");
}

#[test]
fn connections_over_the_cap_wait_in_the_backlog() {
    let site = site();
    let server = Server::start(&site.root, &["--max-connections", "2"]);
    let mut held: Vec<Client> = (0..2).map(|_| server.connect()).collect();
    for client in &mut held {
        client.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(client.response(false).status, 200);
    }
    // The third connection is accepted by the kernel but not served while two are open.
    let mut third = server.connect();
    third.send(b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    std::thread::sleep(Duration::from_millis(300));
    third.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let early = third.stream.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "served over the cap: {early:?}"
    );
    third.stream.set_nonblocking(false).unwrap();
    // One leaves: the waiting one is served.
    drop(held.pop());
    assert_eq!(third.response(false).body, b"hello from b\n");
}

#[test]
fn five_hundred_connections_of_twenty_requests_each() {
    let site = site();
    let medium = pattern(100 << 10);
    write(&site.root, "medium.bin", &medium);
    let server = Server::start(&site.root, &["--quiet"]);
    let medium = Arc::new(medium);
    let start = Arc::new(Barrier::new(500));
    let threads: Vec<_> = (0..500)
        .map(|n| {
            let (addr, medium, start) = (server.addr, medium.clone(), start.clone());
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    // All connections open before any request: 500 at once.
                    let mut client = Client::connect(addr);
                    start.wait();
                    for i in 0..20 {
                        let (path, status, body): (&str, u16, &[u8]) = match (n + i) % 3 {
                            0 => ("/a.txt", 200, b"hello from a\n"),
                            1 => ("/medium.bin", 200, &medium),
                            _ => ("/missing", 404, b""),
                        };
                        client.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
                        let r = client.response(false);
                        assert_eq!(r.status, status, "connection {n}, request {i}");
                        if status == 200 {
                            assert!(r.body == body, "connection {n}, request {i}: wrong body");
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    let failed = threads
        .into_iter()
        .map(|t| t.join())
        .filter(Result::is_err)
        .count();
    assert_eq!(failed, 0, "{failed} of 500 connections failed");
    assert!(
        !server.log().contains("connection error"),
        "{}",
        server.log()
    );
}

#[test]
fn shutdown_under_load_cuts_no_response_short() {
    let site = site();
    let file = pattern(1 << 20);
    write(&site.root, "file.bin", &file);
    let mut server = Server::start(&site.root, &["--quiet"]);
    let file = Arc::new(file);
    let stop = Arc::new(AtomicBool::new(false));
    let complete = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (addr, file, stop, complete) =
                (server.addr, file.clone(), stop.clone(), complete.clone());
            std::thread::spawn(move || {
                // New connection after new connection, each keep-alive, until refused.
                while !stop.load(Ordering::Relaxed) {
                    let Ok(stream) = TcpStream::connect(addr) else {
                        return;
                    };
                    stream.set_read_timeout(Some(common::READ_TIMEOUT)).unwrap();
                    let mut stream = stream;
                    loop {
                        let request = b"GET /file.bin HTTP/1.1\r\nHost: x\r\n\r\n";
                        if stream.write_all(request).is_err() {
                            break;
                        }
                        match read_response(&mut stream, file.len()) {
                            // Closed before the answer started: the request was not
                            // taken (an idle close), which a client may retry.
                            Answer::NotStarted => break,
                            Answer::Whole { body, close } => {
                                assert!(body == *file, "a response body differs");
                                complete.fetch_add(1, Ordering::Relaxed);
                                if close {
                                    break;
                                }
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while complete.load(Ordering::Relaxed) < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("did not exit");
    assert!(status.success(), "{status}");
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("a client saw a response cut short");
    }
    assert!(complete.load(Ordering::Relaxed) >= 200);
    // The listener is gone: new connections are refused, not left hanging.
    assert!(TcpStream::connect(server.addr).is_err());
}

enum Answer {
    NotStarted,
    Whole { body: Vec<u8>, close: bool },
}

/// Reads one response with a `len`-byte body; panics if it stops part way.
fn read_response(stream: &mut TcpStream, len: usize) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 256 << 10];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) if buf.is_empty() => return Answer::NotStarted,
            Ok(0) => panic!("closed inside a response head"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read failed inside a response head: {e}"),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    while buf.len() < head_end + len {
        match stream.read(&mut chunk) {
            Ok(0) => panic!(
                "response cut short: {} of {len} body bytes",
                buf.len() - head_end
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read failed inside a body: {e}"),
        }
    }
    Answer::Whole {
        body: buf[head_end..].to_vec(),
        close: head.contains("Connection: close\r\n"),
    }
}
