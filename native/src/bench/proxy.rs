//! `--send-proxy v1|v2`: the PROXY protocol header (HAProxy's spec) a client sends first
//! on a connection, announcing its real source and destination addresses as a proxy in
//! front of the server would, so a server's PROXY support can be tested without a proxy.
//!
//! The header is built by the `ppp` crate (v1's text line, v2's binary block), the same
//! spec's reference shapes that parsers check against; nothing here formats it by hand.

use std::net::SocketAddr;

use clap::ValueEnum;
use ppp::v2::{Builder, Command, Protocol, Version};

/// Which version of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProxyVersion {
    // No doc comments on the values: clap would turn `--help` into its long form.
    V1,
    V2,
}

/// The header announcing a TCP connection from `source` to `destination`: v1's
/// `PROXY TCP4 SRC DST SPORT DPORT\r\n`, or v2's 16-byte preamble and address block.
pub fn header(version: ProxyVersion, source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    match version {
        ProxyVersion::V1 => ppp::v1::Addresses::from((source, destination))
            .to_string()
            .into_bytes(),
        ProxyVersion::V2 => Builder::with_addresses(
            Version::Two | Command::Proxy,
            Protocol::Stream,
            (source, destination),
        )
        .build()
        .expect("invariant: a socket's two ends are of one family, so the addresses fit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v2's fixed preamble (spec §2.2).
    const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

    #[test]
    fn v1_is_one_text_line() {
        let h = header(
            ProxyVersion::V1,
            "127.0.0.1:51000".parse().unwrap(),
            "127.0.0.2:7007".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP4 127.0.0.1 127.0.0.2 51000 7007\r\n");
        let h = header(
            ProxyVersion::V1,
            "[::1]:51000".parse().unwrap(),
            "[::1]:7007".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP6 ::1 ::1 51000 7007\r\n");
    }

    #[test]
    fn v2_is_the_binary_block_of_the_spec() {
        let h = header(
            ProxyVersion::V2,
            "127.0.0.1:51000".parse().unwrap(),
            "10.0.0.2:7007".parse().unwrap(),
        );
        let mut expected = SIGNATURE.to_vec();
        // Version 2, PROXY; TCP over IPv4; 12 bytes of addresses.
        expected.extend([0x21, 0x11, 0, 12]);
        expected.extend([127, 0, 0, 1, 10, 0, 0, 2]);
        expected.extend(51000u16.to_be_bytes());
        expected.extend(7007u16.to_be_bytes());
        assert_eq!(h, expected);
        let h = header(
            ProxyVersion::V2,
            "[::1]:1".parse().unwrap(),
            "[::1]:2".parse().unwrap(),
        );
        assert_eq!(&h[12..16], [0x21, 0x21, 0, 36]);
        assert_eq!(h.len(), 16 + 36);
    }
}
