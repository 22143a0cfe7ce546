use reverb_core::{Config, DatagramEcho, DatagramError, EchoConfig, Framing};

fn echo(config: Config) -> DatagramEcho {
    DatagramEcho::new(config.validate().unwrap())
}

#[test]
fn a_datagram_is_echoed_whole_with_prefix_and_suffix() {
    let mut udp = echo(Config {
        echo: EchoConfig {
            prefix: b"[".to_vec(),
            suffix: b"]".to_vec(),
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    let mut reply = Vec::new();
    assert_eq!(udp.echo(b"ping\n", &mut reply), Ok(&b"[ping]\n"[..]));
    assert_eq!(
        udp.echo(b"no newline", &mut reply),
        Ok(&b"[no newline]"[..])
    );
    assert_eq!(udp.counters().echoed, 2);
}

#[test]
fn raw_datagrams_keep_their_newlines_inside_the_affixes() {
    let config = Config {
        echo: EchoConfig {
            framing: Framing::Raw,
            suffix: b"!".to_vec(),
            ..EchoConfig::default()
        },
        ..Config::default()
    };
    let mut reply = Vec::new();
    let all: Vec<u8> = (0..=255u8).collect();
    let mut expected = all.clone();
    expected.push(b'!');
    assert_eq!(echo(config).echo(&all, &mut reply), Ok(&expected[..]));
}

#[test]
fn a_reply_over_max_datagram_is_dropped_and_counted() {
    let mut udp = echo(Config {
        echo: EchoConfig {
            max_datagram: 8,
            prefix: b">>".to_vec(),
            ..EchoConfig::default()
        },
        ..Config::default()
    });
    let mut reply = Vec::new();
    assert_eq!(udp.echo(b"123456", &mut reply), Ok(&b">>123456"[..]));
    assert_eq!(
        udp.echo(b"1234567", &mut reply),
        Err(DatagramError::TooLarge { len: 9, limit: 8 })
    );
    assert_eq!(udp.counters().dropped, 1);
}
