//! The three codings the host makes forms in, each with the one level it uses: chosen
//! once, from measurements on real text (BENCHMARKS.md, "Compression levels"), since a
//! form is made once and sent many times.

use std::io::{self, Read, Write};

/// A content coding (RFC 9110 §8.4.1) the host compresses in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Br,
    Zstd,
    Gzip,
}

/// brotli's quality (0–11): 11 makes forms 9% smaller than 9 but at 1/13 the speed
/// (0.7 MB/s here), too slow for a first request to wait on.
pub const BR_QUALITY: u32 = 9;
/// brotli's window (log2 of bytes): its default.
pub const BR_WINDOW: u32 = 22;
/// zstd's level (1–22): 19 is 22's size at 4x its speed, and 10% smaller than 9.
pub const ZSTD_LEVEL: i32 = 19;
/// gzip's level (0–9): 9 costs a third more than nginx's usual 6, once, for a form
/// never larger.
pub const GZIP_LEVEL: u32 = 9;

/// Four hex digits naming the encoders' versions (from Cargo.lock, by `build.rs`).
fn encoders() -> &'static str {
    static SHORT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHORT.get_or_init(|| {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(env!("SANDSERVE_CODECS"));
        format!("{:02x}{:02x}", hash[0], hash[1])
    })
}

impl Coding {
    /// Its `Content-Encoding` name.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    /// The coding and the settings a form is made with, and which encoders made it
    /// (`zstd-19.3fa2`): part of the form's entity tag and of its cache key, so that a
    /// change of level or of encoder version is a new form, never the same tag on other
    /// bytes or a splice of two (`If-Range`).
    pub fn tag(self) -> String {
        let build = encoders();
        match self {
            Coding::Br => format!("br-{BR_QUALITY}.{BR_WINDOW}.{build}"),
            Coding::Zstd => format!("zstd-{ZSTD_LEVEL}.{build}"),
            Coding::Gzip => format!("gzip-{GZIP_LEVEL}.{build}"),
        }
    }

    /// Compresses all of `input`, `size` bytes, into `output`. The size lets each
    /// encoder size its tables to the input: a 1 KiB file at zstd 19 took 67 ms
    /// without it (tables for an 8 MiB window), under 1 ms with it.
    pub fn encode(
        self,
        input: &mut impl Read,
        size: u64,
        output: &mut impl Write,
    ) -> io::Result<()> {
        match self {
            Coding::Br => {
                let mut params = brotli::enc::BrotliEncoderParams {
                    quality: BR_QUALITY as i32,
                    // No larger a window than the input needs (what brotli's one-shot
                    // call does itself): the same bytes, less memory to set up.
                    lgwin: (u64::BITS - size.max(1 << 10).leading_zeros()).min(BR_WINDOW) as i32,
                    size_hint: size as usize,
                    ..Default::default()
                };
                params.mode = brotli::enc::backward_references::BrotliEncoderMode::BROTLI_MODE_TEXT;
                brotli::BrotliCompress(input, output, &params)?;
            }
            Coding::Zstd => {
                let mut encoder = zstd::stream::Encoder::new(output, ZSTD_LEVEL)?;
                encoder.set_pledged_src_size(Some(size))?;
                encoder.include_contentsize(true)?;
                io::copy(input, &mut encoder)?;
                encoder.finish()?;
            }
            Coding::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(output, flate2::Compression::new(GZIP_LEVEL));
                io::copy(input, &mut encoder)?;
                encoder.finish()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Coding;
    use std::io::Read;

    #[test]
    fn every_coding_round_trips() {
        let text = "body { color: #333; margin: 0 auto; }\n".repeat(500);
        for coding in [Coding::Br, Coding::Zstd, Coding::Gzip] {
            let mut form = Vec::new();
            coding
                .encode(&mut text.as_bytes(), text.len() as u64, &mut form)
                .unwrap();
            assert!(form.len() < text.len() / 10, "{coding:?}: {}", form.len());
            let mut back = Vec::new();
            match coding {
                Coding::Br => {
                    brotli::BrotliDecompress(&mut form.as_slice(), &mut back).unwrap();
                }
                Coding::Zstd => back = zstd::decode_all(form.as_slice()).unwrap(),
                Coding::Gzip => {
                    flate2::read::GzDecoder::new(form.as_slice())
                        .read_to_end(&mut back)
                        .unwrap();
                }
            }
            assert_eq!(back, text.as_bytes(), "{coding:?}");
        }
    }
}
