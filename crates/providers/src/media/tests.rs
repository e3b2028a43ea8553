//! The fetcher against a scripted HTTP server on loopback (allowed only when private
//! networks are allowed), and the address classification on its own.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use switchyard_config::MediaConfig;
use switchyard_types::{ChatRequest, ContentBlock, ImageSource, Message, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3];

/// Serves each canned response on its own connection, in order; returns the address.
async fn serve(responses: Vec<Vec<u8>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for response in responses {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(&response).await;
            let _ = socket.shutdown().await;
        }
    });
    addr
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn fetcher(allow_private: bool, max_bytes: u64) -> MediaFetcher {
    MediaFetcher::new(MediaConfig {
        max_bytes,
        timeout: Duration::from_secs(2),
        allow_private_networks: allow_private,
        offline: false,
        ..MediaConfig::default()
    })
    .unwrap()
}

fn with_image(url: &str) -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![Message {
            role: Role::User,
            content: vec![
                ContentBlock::text("what is this?"),
                ContentBlock::Image {
                    source: ImageSource::Url {
                        url: url.to_owned(),
                    },
                    detail: None,
                    cache_control: None,
                },
            ],
            name: None,
        }],
        ..Default::default()
    }
}

#[test]
fn only_public_unicast_addresses_pass() {
    let public = [
        "8.8.8.8",
        "1.1.1.1",
        "52.95.110.1",
        "2606:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
    ];
    for ip in public {
        assert!(is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
    let blocked = [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "192.0.2.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "2001:db8::1",
        "2001:0:4136:e378::1",
        "::127.0.0.1",
    ];
    for ip in blocked {
        assert!(!is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
}

#[tokio::test]
async fn private_addresses_and_names_are_refused() {
    let addr = serve(vec![response(
        "200 OK",
        &[("content-type", "image/png")],
        PNG,
    )])
    .await;
    let f = fetcher(false, 1024);
    let err = f
        .fetch(&format!("http://{addr}/cat.png"))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("127.0.0.1 is not a public address"),
        "{}",
        err.message
    );
    let err = f
        .fetch(&format!("http://localhost:{}/cat.png", addr.port()))
        .await
        .unwrap_err();
    assert!(err.message.contains("non-public"), "{}", err.message);
    let err = f
        .fetch("http://169.254.169.254/latest/meta-data/")
        .await
        .unwrap_err();
    assert!(
        err.message.contains("not a public address"),
        "{}",
        err.message
    );
    let err = f.fetch("file:///etc/passwd").await.unwrap_err();
    assert!(
        err.message.contains("only http and https"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn redirects_are_checked_again() {
    // Every hop goes through the same checks as the first.
    let addr = serve(vec![response(
        "302 Found",
        &[("location", "file:///etc/passwd")],
        b"",
    )])
    .await;
    let err = fetcher(true, 1024)
        .fetch(&format!("http://{addr}/a"))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("only http and https"),
        "{}",
        err.message
    );
    let addr = serve(vec![response(
        "302 Found",
        &[(
            "location",
            "http://[::ffff:169.254.169.254]/latest/meta-data/",
        )],
        b"",
    )])
    .await;
    // (The first hop is on loopback, so only a fetcher that allows private networks reaches
    // it; the literal second hop is refused by the strict one before any connection.)
    let strict = fetcher(false, 1024);
    let err = strict
        .fetch("http://[::ffff:169.254.169.254]/x")
        .await
        .unwrap_err();
    assert!(
        err.message.contains("not a public address"),
        "{}",
        err.message
    );
    let loops: Vec<Vec<u8>> = (0..7)
        .map(|_| response("302 Found", &[("location", "/again")], b""))
        .collect();
    let _ = addr;
    let addr = serve(loops).await;
    let err = fetcher(true, 1024)
        .fetch(&format!("http://{addr}/a"))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("more than 5 redirects"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn images_are_inlined_with_their_type_and_within_the_cap() {
    let addr = serve(vec![
        response("301 Moved", &[("location", "/real.png")], b""),
        response(
            "200 OK",
            &[("content-type", "application/octet-stream")],
            PNG,
        ),
    ])
    .await;
    let f = fetcher(true, 1024);
    let (inlined, _hold) = f
        .inline(&with_image(&format!("http://{addr}/cat.png?sig=secret")))
        .await
        .unwrap()
        .unwrap();
    match &inlined.messages[0].content[1] {
        ContentBlock::Image {
            source: ImageSource::Base64 { media_type, data },
            ..
        } => {
            assert_eq!(media_type, "image/png", "sniffed from the bytes");
            assert_eq!(
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap(),
                PNG
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        f.inline(&inlined).await.unwrap().is_none(),
        "nothing left to fetch"
    );

    // Over the cap: by Content-Length, and by the bytes actually sent.
    let big = vec![0u8; 2048];
    let addr = serve(vec![response(
        "200 OK",
        &[("content-type", "image/png")],
        &big,
    )])
    .await;
    let err = f
        .inline(&with_image(&format!("http://{addr}/big.png?token=abc")))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("larger than 1024 bytes"),
        "{}",
        err.message
    );
    assert!(
        !err.message.contains("token=abc"),
        "query strings are not repeated"
    );

    // Not an image, and a failing server.
    let addr = serve(vec![
        response("200 OK", &[("content-type", "text/html")], b"<html>"),
        response("404 Not Found", &[], b""),
    ])
    .await;
    let err = f
        .inline(&with_image(&format!("http://{addr}/a")))
        .await
        .unwrap_err();
    assert!(err.message.contains("not an image"), "{}", err.message);
    let err = f
        .inline(&with_image(&format!("http://{addr}/b")))
        .await
        .unwrap_err();
    assert!(err.message.contains("HTTP 404"), "{}", err.message);
}

#[tokio::test]
async fn a_silent_server_ends_within_the_time_limit() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (_socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let f = MediaFetcher::new(MediaConfig {
        max_bytes: 1024,
        timeout: Duration::from_millis(300),
        allow_private_networks: true,
        offline: false,
        ..MediaConfig::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = f
        .fetch(&format!("http://{addr}/slow.png"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.message.contains("within 0.3 s"), "{}", err.message);
}

#[tokio::test]
async fn offline_mode_fetches_nothing() {
    let f = MediaFetcher::new(MediaConfig {
        offline: true,
        allow_private_networks: true,
        ..MediaConfig::default()
    })
    .unwrap();
    let err = f
        .inline(&with_image("http://127.0.0.1:9/cat.png"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, crate::ProviderErrorKind::Unsupported);
    assert!(err.message.contains("offline"), "{}", err.message);
}

#[test]
fn base64_made_as_bytes_arrive_equals_base64_of_the_whole() {
    let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    for chunk in 1..=8 {
        let mut stream = Base64Stream::default();
        for piece in data.chunks(chunk) {
            stream.push(piece);
        }
        assert_eq!(stream.head(), &data[..SNIFF_BYTES]);
        assert_eq!(
            stream.finish(),
            base64::engine::general_purpose::STANDARD.encode(&data),
            "chunks of {chunk}"
        );
    }
}

fn with_images(urls: &[String]) -> ChatRequest {
    let mut request = with_image(&urls[0]);
    for url in &urls[1..] {
        request.messages[0].content.push(ContentBlock::Image {
            source: ImageSource::Url { url: url.clone() },
            detail: None,
            cache_control: None,
        });
    }
    request
}

#[tokio::test]
async fn the_urls_of_one_request_share_one_byte_limit() {
    let body = vec![0x89u8; 3000];
    let ok = || response("200 OK", &[("content-type", "image/png")], &body);
    let addr = serve(vec![ok(), ok(), ok(), ok()]).await;
    let f = MediaFetcher::new(MediaConfig {
        max_bytes: 4096,
        max_request_bytes: 8192,
        timeout: Duration::from_secs(2),
        allow_private_networks: true,
        ..MediaConfig::default()
    })
    .unwrap();
    // Three files of 3,000 bytes: each under max_bytes, 9,000 in all.
    let urls: Vec<String> = (0..3).map(|i| format!("http://{addr}/{i}.png")).collect();
    let err = f.inline(&with_images(&urls)).await.unwrap_err();
    assert!(
        err.message.contains("more than 8192 bytes in all"),
        "{}",
        err.message
    );
    // The same URL three times is fetched once and counts once.
    let same = vec![urls[0].clone(), urls[0].clone(), urls[0].clone()];
    let (inlined, _hold) = f.inline(&with_images(&same)).await.unwrap().unwrap();
    assert_eq!(inlined.messages[0].content.len(), 4);
}

#[tokio::test]
async fn fetched_bytes_held_by_the_process_are_bounded_and_given_back() {
    let body = vec![0x89u8; 6000];
    let ok = || response("200 OK", &[("content-type", "image/png")], &body);
    let addr = serve(vec![ok(), ok(), ok()]).await;
    let f = MediaFetcher::new(MediaConfig {
        max_in_flight_bytes: 12 * 1024,
        timeout: Duration::from_secs(2),
        allow_private_networks: true,
        ..MediaConfig::default()
    })
    .unwrap();
    let url = |i: u32| vec![format!("http://{addr}/{i}.png")];
    // One file's base64 (8,000 bytes) fits; a second one held at the same time does not.
    let (_first, hold) = f.inline(&with_images(&url(0))).await.unwrap().unwrap();
    let err = f.inline(&with_images(&url(1))).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some(GATEWAY_BUSY), "{}", err.message);
    // Once the first request is done with its bytes, the next one is fetched.
    drop(hold);
    assert!(f.inline(&with_images(&url(2))).await.unwrap().is_some());
}
