//! HTTP/2's limits (`--h2-*`), checked: the settings the `h2` crate enforces and the
//! filters `server::h2` adds. Kept apart from `config` so that the room that serves
//! HTTP/2 has its settings in one place.

use anyhow::{Result, bail};

use crate::settings::cli::Args;

/// The HTTP/2 limits, from the `--h2-*` flags.
#[derive(Debug, Clone)]
pub struct Http2 {
    /// `--h2c`: a plain connection that opens with the HTTP/2 preface speaks HTTP/2.
    pub h2c: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_streams: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE, enforced across CONTINUATION frames.
    pub max_header_list: u32,
    /// SETTINGS_MAX_FRAME_SIZE we accept.
    pub max_frame_size: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: request-body bytes a stream may send ahead.
    pub window: u32,
    /// Response bytes buffered per stream before the peer's window takes them.
    pub max_send_buffer: usize,
    /// Streams reset by the peer before the server accepted them, then GOAWAY.
    pub max_pending_resets: usize,
    /// Streams the server resets for the peer's errors, then GOAWAY.
    pub max_error_resets: usize,
    /// Streams the peer resets in one second, then GOAWAY (ENHANCE_YOUR_CALM).
    pub max_resets_per_second: u32,
    /// Handler calls one connection may have in flight.
    pub max_calls: usize,
}

impl Http2 {
    /// The `--h2-*` flags, each checked against what RFC 9113 and the server allow.
    pub fn from_args(args: &Args) -> Result<Http2> {
        let most = 1 << 20;
        let instances = args.max_instances as usize;
        let calls = args.h2_max_calls.unwrap_or(32.min(instances));
        for (flag, value, low, high, say) in [
            (
                "h2-max-streams",
                args.h2_max_streams as usize,
                1,
                most,
                "1 to 1048576",
            ),
            (
                "h2-max-header-list",
                args.h2_max_header_list,
                1 << 10,
                16 << 20,
                "1KiB to 16MiB",
            ),
            (
                "h2-max-frame-size",
                args.h2_max_frame_size,
                16 << 10,
                (16 << 20) - 1,
                "16KiB to 16MiB",
            ),
            (
                "h2-window",
                args.h2_window,
                1,
                (1 << 31) - 1,
                "1 byte to 2GiB",
            ),
            (
                "h2-max-send-buffer",
                args.h2_max_send_buffer,
                1 << 10,
                64 << 20,
                "1KiB to 64MiB",
            ),
            (
                "h2-max-pending-resets",
                args.h2_max_pending_resets,
                1,
                most,
                "1 to 1048576",
            ),
            (
                "h2-max-error-resets",
                args.h2_max_error_resets,
                1,
                most,
                "1 to 1048576",
            ),
            (
                "h2-max-resets",
                args.h2_max_resets as usize,
                1,
                most,
                "1 to 1048576",
            ),
            ("h2-max-calls", calls, 1, instances, "1 to --max-instances"),
        ] {
            if !(low..=high).contains(&value) {
                bail!("--{flag} {value}: must be {say}");
            }
        }
        Ok(Http2 {
            h2c: args.h2c,
            max_streams: args.h2_max_streams,
            max_header_list: args.h2_max_header_list as u32,
            max_frame_size: args.h2_max_frame_size as u32,
            window: args.h2_window as u32,
            max_send_buffer: args.h2_max_send_buffer,
            max_pending_resets: args.h2_max_pending_resets,
            max_error_resets: args.h2_max_error_resets,
            max_resets_per_second: args.h2_max_resets,
            max_calls: calls,
        })
    }
}
