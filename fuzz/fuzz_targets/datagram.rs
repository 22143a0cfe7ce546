//! The UDP echo, any valid config, any datagrams: the reply is exactly prefix, content,
//! suffix and terminator, never over `max_datagram`; a datagram is dropped only when its
//! reply would be; the counters add up.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reverb_core::{DatagramEcho, DatagramError, Framing};
use reverb_fuzz::FuzzConfig;

#[derive(Arbitrary, Debug)]
struct Case {
    config: FuzzConfig,
    datagrams: Vec<Vec<u8>>,
}

fuzz_target!(|case: Case| {
    let Some(config) = case.config.validate() else {
        return;
    };
    let mut echo = DatagramEcho::new(config.clone());
    let mut reply = Vec::new();
    let (mut echoed, mut dropped, mut bytes_in, mut bytes_out) = (0u64, 0u64, 0u64, 0u64);
    let config = &config.echo;
    for payload in &case.datagrams {
        // The terminator goes after the suffix in line-based framings, as on TCP.
        let cut = match (config.framing, payload.as_slice()) {
            (Framing::Raw, _) => payload.len(),
            (_, [.., b'\r', b'\n']) => payload.len() - 2,
            (_, [.., b'\n']) => payload.len() - 1,
            _ => payload.len(),
        };
        let (content, terminator) = payload.split_at(cut);
        let mut expected = config.prefix.clone();
        expected.extend_from_slice(content);
        expected.extend_from_slice(&config.suffix);
        expected.extend_from_slice(terminator);
        bytes_in += payload.len() as u64;
        match echo.echo(payload, &mut reply) {
            Ok(got) => {
                assert_eq!(got, expected.as_slice());
                assert!(got.len() <= config.max_datagram);
                echoed += 1;
                bytes_out += got.len() as u64;
            }
            Err(DatagramError::TooLarge { len, limit }) => {
                assert_eq!(len, expected.len());
                assert_eq!(limit, config.max_datagram);
                assert!(len > limit);
                dropped += 1;
            }
        }
    }
    let c = echo.counters();
    assert_eq!(
        (c.echoed, c.dropped, c.bytes_in, c.bytes_out),
        (echoed, dropped, bytes_in, bytes_out)
    );
});
