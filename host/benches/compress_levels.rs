//! Size and time of each coding at several levels on real text, to choose the levels
//! the host makes its forms with (`compress::codec`). A form is made once per file
//! version, so the question is how much smaller a slower level makes it, and whether
//! the slowest stays inside the wait a first request may take.
//!
//! `cargo bench -p sandserve --bench compress_levels -- FILE...` (default: rustdoc's
//! own JS, CSS and HTML from the toolchain, and the default site). Prints one row per
//! coding and level: total bytes, the ratio to the originals, and the median time of
//! 5 runs over all files, in ms, with MB/s of input.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut files: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if files.is_empty() {
        files = default_corpus();
    }
    let corpus: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    let total: usize = corpus.iter().map(Vec::len).sum();
    println!("{} files, {} bytes: {:?}", corpus.len(), total, files);
    println!("| coding | level | bytes | ratio | ms (median of 5) | MB/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    let runs: [(&str, &[u32]); 3] = [
        ("gzip", &[1, 6, 9]),
        ("br", &[4, 5, 6, 9, 11]),
        ("zstd", &[3, 9, 15, 19, 22]),
    ];
    for (coding, levels) in runs {
        for &level in levels {
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..5 {
                let start = Instant::now();
                bytes = corpus.iter().map(|f| encode(coding, level, f).len()).sum();
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            let ms = times[2];
            println!(
                "| {coding} | {level} | {bytes} | {:.3} | {ms:.1} | {:.1} |",
                bytes as f64 / total as f64,
                total as f64 / 1e3 / ms
            );
        }
    }
}

fn encode(coding: &str, level: u32, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(level));
            e.write_all(input).unwrap();
            e.finish().unwrap();
        }
        "br" => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: level as i32,
                lgwin: 22,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &input[..], &mut out, &params).unwrap();
        }
        _ => out = zstd::encode_all(input, level as i32).unwrap(),
    }
    out
}

fn default_corpus() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let docs = PathBuf::from(sysroot).join("share/doc/rust/html");
    if let Ok(dir) = std::fs::read_dir(docs.join("static.files")) {
        for entry in dir.flatten() {
            let path = entry.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if matches!(ext, "js" | "css" | "svg") {
                files.push(path);
            }
        }
    }
    for page in ["std/vec/struct.Vec.html", "book/print.html"] {
        files.push(docs.join(page));
    }
    let site = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../static");
    for f in ["index.html", "assets/app.js", "assets/style.css"] {
        files.push(site.join(f));
    }
    files.sort();
    files
}
