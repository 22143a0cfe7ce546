//! The PROXY protocol header: where it ends (framed here) and what it says (parsed by
//! `ppp`).

use std::net::SocketAddr;

/// Longest v1 header, `\r\n` included: the specification's own bound (a `TCP6` line with
/// both addresses and ports at their longest).
pub const MAX_V1_HEADER: usize = 107;

/// The fixed part of a v2 header: the 12-byte signature, version and command, family and
/// protocol, and the length of what follows.
pub const V2_FIXED: usize = 16;

/// The largest v2 address block: two Unix socket paths of 108 bytes.
pub const MAX_V2_ADDRESSES: usize = 216;

/// Most bytes of TLVs (type-length-value extensions after the addresses) a v2 header may
/// carry; a header announcing more is refused. Every TLV the specification, HAProxy,
/// AWS, Azure and Google Cloud define, each at its largest, comes to about 1.3 KiB
/// together (ALPN and authority 255 bytes each, a unique id 128, a network namespace
/// 255, the SSL block with its version, common name, cipher and algorithms a few hundred,
/// a VPC endpoint id a few dozen); 4 KiB holds all of them with room to spare, while a
/// client cannot make a connection hold the 64 KiB the length field allows before its
/// first byte of data.
pub const MAX_V2_TLVS: usize = 4096;

/// The longest v2 header this layer takes.
pub const MAX_V2_HEADER: usize = V2_FIXED + MAX_V2_ADDRESSES + MAX_V2_TLVS;

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8; 6] = b"PROXY ";

/// What a valid header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyHeader {
    /// 1 (text) or 2 (binary).
    pub version: u8,
    /// The client's address as the proxy saw it. `None` when the header names none: a v2
    /// `LOCAL` command (a proxy's own health check), a v1 `UNKNOWN` line, or a v2
    /// family without addresses (unspecified, Unix): the connection's own peer is the
    /// client then, as the specification says.
    pub source: Option<SocketAddr>,
    /// The address the client connected to, on the proxy, when the header names it.
    pub destination: Option<SocketAddr>,
}

/// Why a connection's first bytes are not a header this layer takes. Each is a few
/// lowercase words for a log line, and the protocol version it concerns (0: neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Invalid {
    /// The first bytes are neither a v1 nor a v2 header.
    NotProxy,
    /// A v1 line without `\r\n` within 107 bytes.
    V1TooLong,
    /// A v1 line `ppp` refused: a bad protocol, address or port.
    V1Malformed,
    /// A v2 signature followed by another version than 2, or a command other than
    /// `LOCAL` or `PROXY`.
    V2Version,
    /// A v2 header announcing more TLVs than [`MAX_V2_TLVS`].
    V2TooLarge,
    /// A v2 header `ppp` refused (a bad family or protocol, an address block shorter
    /// than its family needs), or whose TLVs do not fill its length exactly.
    V2Malformed,
}

impl Invalid {
    /// The version it concerns: 1, 2, or 0 for bytes that are neither.
    pub const fn version(self) -> u16 {
        match self {
            Invalid::NotProxy => 0,
            Invalid::V1TooLong | Invalid::V1Malformed => 1,
            Invalid::V2Version | Invalid::V2TooLarge | Invalid::V2Malformed => 2,
        }
    }

    /// What went wrong, in a few words.
    pub const fn text(self) -> &'static str {
        match self {
            Invalid::NotProxy => "no PROXY protocol header",
            Invalid::V1TooLong => "a PROXY v1 header longer than 107 bytes",
            Invalid::V1Malformed => "a malformed PROXY v1 header",
            Invalid::V2Version => "a PROXY v2 header of another version or command",
            Invalid::V2TooLarge => "a PROXY v2 header with more than 4096 bytes of TLVs",
            Invalid::V2Malformed => "a malformed PROXY v2 header",
        }
    }
}

/// Where the header in a connection's first bytes stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parse {
    /// Not complete: the header ends somewhere within the first `upto` bytes (exactly
    /// there for v2 once its length is read), so reading up to that many is safe.
    Incomplete { upto: usize },
    /// A valid header of `len` bytes.
    Complete { header: ProxyHeader, len: usize },
    /// Not a header this layer takes.
    Invalid(Invalid),
}

/// Reads the header at the start of `buf`.
///
/// The framing is ours, the contents `ppp`'s: `ppp` can say "incomplete" itself, but a
/// v1 line cut after its source port's space reads as a bad port to it, so a header
/// split across reads there would be refused. Framing first — v1 ends at its `\n`, v2 at
/// the length its fixed part announces — hands `ppp` only whole headers, and needs a
/// dozen lines.
pub(crate) fn parse(buf: &[u8]) -> Parse {
    let Some(&first) = buf.first() else {
        return Parse::Incomplete { upto: V2_FIXED };
    };
    if first == V2_SIGNATURE[0] {
        parse_v2(buf)
    } else {
        parse_v1(buf)
    }
}

fn parse_v1(buf: &[u8]) -> Parse {
    let prefix = buf.len().min(V1_PREFIX.len());
    if buf[..prefix] != V1_PREFIX[..prefix] {
        return Parse::Invalid(Invalid::NotProxy);
    }
    let window = &buf[..buf.len().min(MAX_V1_HEADER)];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_V1_HEADER {
            Parse::Invalid(Invalid::V1TooLong)
        } else {
            Parse::Incomplete {
                upto: MAX_V1_HEADER,
            }
        };
    };
    let len = newline + 1;
    let Ok(header) = ppp::v1::Header::try_from(&buf[..len]) else {
        return Parse::Invalid(Invalid::V1Malformed);
    };
    // ppp reads up to the first `\r`; anything between it and the `\n` is not a header.
    if header.header.len() != len {
        return Parse::Invalid(Invalid::V1Malformed);
    }
    let (source, destination) = match header.addresses {
        ppp::v1::Addresses::Tcp4(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        ppp::v1::Addresses::Tcp6(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        ppp::v1::Addresses::Unknown => (None, None),
    };
    Parse::Complete {
        header: ProxyHeader {
            version: 1,
            source,
            destination,
        },
        len,
    }
}

fn parse_v2(buf: &[u8]) -> Parse {
    let signature = buf.len().min(V2_SIGNATURE.len());
    if buf[..signature] != V2_SIGNATURE[..signature] {
        return Parse::Invalid(Invalid::NotProxy);
    }
    if buf.len() < V2_FIXED {
        return Parse::Incomplete { upto: V2_FIXED };
    }
    // Version 2, command LOCAL (0) or PROXY (1).
    if buf[12] >> 4 != 2 || buf[12] & 0x0F > 1 {
        return Parse::Invalid(Invalid::V2Version);
    }
    let length = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let addresses = match buf[13] >> 4 {
        1 => 12,
        2 => 36,
        3 => MAX_V2_ADDRESSES,
        _ => 0,
    };
    if length.saturating_sub(addresses) > MAX_V2_TLVS {
        return Parse::Invalid(Invalid::V2TooLarge);
    }
    let len = V2_FIXED + length;
    if buf.len() < len {
        return Parse::Incomplete { upto: len };
    }
    let Ok(header) = ppp::v2::Header::try_from(&buf[..len]) else {
        return Parse::Invalid(Invalid::V2Malformed);
    };
    // The TLVs are skipped, but they must be whole: a length that cuts one is a broken
    // header, not one to guess at.
    if header.tlvs().any(|tlv| tlv.is_err()) {
        return Parse::Invalid(Invalid::V2Malformed);
    }
    let (source, destination) = match (header.command, header.addresses) {
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv4(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv6(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        // LOCAL (a health check from the proxy itself), or no IP addresses to give.
        _ => (None, None),
    };
    Parse::Complete {
        header: ProxyHeader {
            version: 2,
            source,
            destination,
        },
        len,
    }
}

/// Test and client helpers: headers as a load balancer writes them.
pub mod build {
    use std::net::SocketAddr;

    /// A v1 header for a TCP connection from `source` to `destination` (both IPv4 or
    /// both IPv6).
    ///
    /// # Panics
    /// If the two are of different families: no header can say that.
    pub fn v1(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
        let family = match (source, destination) {
            (SocketAddr::V4(_), SocketAddr::V4(_)) => "TCP4",
            (SocketAddr::V6(_), SocketAddr::V6(_)) => "TCP6",
            _ => panic!("a PROXY header names two addresses of one family"),
        };
        format!(
            "PROXY {family} {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        )
        .into_bytes()
    }

    /// A v2 `PROXY` header for a TCP connection from `source` to `destination`, with
    /// `tlvs` (type and value) after the addresses.
    ///
    /// # Panics
    /// If the two are of different families, or the TLVs do not fit a header.
    pub fn v2(source: SocketAddr, destination: SocketAddr, tlvs: &[(u8, &[u8])]) -> Vec<u8> {
        let mut block = Vec::new();
        let family = match (source, destination) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                block.extend_from_slice(&s.ip().octets());
                block.extend_from_slice(&d.ip().octets());
                0x11
            }
            (SocketAddr::V6(s), SocketAddr::V6(d)) => {
                block.extend_from_slice(&s.ip().octets());
                block.extend_from_slice(&d.ip().octets());
                0x21
            }
            _ => panic!("a PROXY header names two addresses of one family"),
        };
        block.extend_from_slice(&source.port().to_be_bytes());
        block.extend_from_slice(&destination.port().to_be_bytes());
        for (kind, value) in tlvs {
            block.push(*kind);
            let len = u16::try_from(value.len()).expect("a TLV of at most 65535 bytes");
            block.extend_from_slice(&len.to_be_bytes());
            block.extend_from_slice(value);
        }
        raw_v2(0x21, family, &block)
    }

    /// A v2 `LOCAL` header (a proxy's health check): no addresses.
    pub fn v2_local() -> Vec<u8> {
        raw_v2(0x20, 0x00, &[])
    }

    /// A v2 header with any version-and-command and family-and-protocol bytes and any
    /// block after them: for headers no proxy would send.
    ///
    /// # Panics
    /// If the block is longer than 65535 bytes.
    pub fn raw_v2(version_command: u8, family_protocol: u8, block: &[u8]) -> Vec<u8> {
        let mut out = super::V2_SIGNATURE.to_vec();
        out.push(version_command);
        out.push(family_protocol);
        let len = u16::try_from(block.len()).expect("a block of at most 65535 bytes");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(block);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn complete(buf: &[u8]) -> (ProxyHeader, usize) {
        match parse(buf) {
            Parse::Complete { header, len } => (header, len),
            other => panic!("{other:?} for {buf:?}"),
        }
    }

    #[test]
    fn v1_and_v2_headers_give_their_addresses_and_length() {
        let (client, proxy) = (addr("203.0.113.7:41234"), addr("192.0.2.1:443"));
        let mut v1 = build::v1(client, proxy);
        let len = v1.len();
        v1.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            complete(&v1),
            (
                ProxyHeader {
                    version: 1,
                    source: Some(client),
                    destination: Some(proxy)
                },
                len
            )
        );
        let (client6, proxy6) = (addr("[2001:db8::7]:1"), addr("[2001:db8::1]:2"));
        let v2 = build::v2(client6, proxy6, &[(0x01, b"h2"), (0xEA, b"vpce-0123")]);
        let (header, len) = complete(&v2);
        assert_eq!((header.version, header.source), (2, Some(client6)));
        assert_eq!(len, v2.len());
        let (local, _) = complete(&build::v2_local());
        assert_eq!(local.source, None, "LOCAL: the peer is the client");
        assert_eq!(complete(b"PROXY UNKNOWN\r\n").0.source, None);
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete_never_invalid() {
        let (client, proxy) = (addr("203.0.113.7:41234"), addr("192.0.2.1:443"));
        for header in [
            build::v1(client, proxy),
            build::v1(addr("[::1]:1"), addr("[::2]:65535")),
            build::v2(client, proxy, &[(0x05, &[7; 300])]),
            b"PROXY UNKNOWN\r\n".to_vec(),
        ] {
            for cut in 0..header.len() {
                match parse(&header[..cut]) {
                    Parse::Incomplete { upto } => assert!(upto >= header.len().min(16)),
                    other => panic!("{other:?} at {cut} of {header:?}"),
                }
            }
        }
    }

    #[test]
    fn bad_headers_are_named() {
        let invalid = |buf: &[u8]| match parse(buf) {
            Parse::Invalid(why) => why,
            other => panic!("{other:?} for {buf:?}"),
        };
        assert_eq!(invalid(b"GET / HTTP/1.1\r\n"), Invalid::NotProxy);
        assert_eq!(invalid(b"\r\n\r\nX"), Invalid::NotProxy);
        assert_eq!(invalid(&[b'P'; 2][..]), Invalid::NotProxy);
        assert_eq!(
            invalid(&[b"PROXY " as &[u8], &[b'1'; 120]].concat()),
            Invalid::V1TooLong
        );
        assert_eq!(
            invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
            Invalid::V1Malformed
        );
        assert_eq!(
            invalid(b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"),
            Invalid::V1Malformed
        );
        assert_eq!(
            invalid(b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n"),
            Invalid::V1Malformed
        );
        assert_eq!(
            invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n"),
            Invalid::V1Malformed
        );
        assert_eq!(
            invalid(&build::raw_v2(0x11, 0x11, &[0; 12])),
            Invalid::V2Version
        );
        assert_eq!(
            invalid(&build::raw_v2(0x22, 0x11, &[0; 12])),
            Invalid::V2Version
        );
        assert_eq!(
            invalid(&build::raw_v2(0x21, 0x11, &[0; 12 + 4097])),
            Invalid::V2TooLarge
        );
        assert_eq!(
            invalid(&build::raw_v2(0x21, 0x11, &[0; 8])),
            Invalid::V2Malformed
        );
        assert_eq!(
            invalid(&build::raw_v2(0x21, 0x41, &[0; 12])),
            Invalid::V2Malformed
        );
        // A TLV announcing more bytes than the header holds.
        let mut cut = vec![0; 12];
        cut.extend_from_slice(&[0x05, 0, 9, 1, 2]);
        assert_eq!(
            invalid(&build::raw_v2(0x21, 0x11, &cut)),
            Invalid::V2Malformed
        );
        // The largest TLV area allowed is taken.
        let most = build::raw_v2(
            0x21,
            0x11,
            &[[0u8; 12].as_slice(), &[0x04, 0x0F, 0xFD], &[0; 4093]].concat(),
        );
        assert_eq!(complete(&most).1, MAX_V2_HEADER - MAX_V2_ADDRESSES + 12);
    }
}
