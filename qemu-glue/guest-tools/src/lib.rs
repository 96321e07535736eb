//! `tunic-guest`: a small helper the conformance suite copies into the guest.
//!
//! It does what busybox and iproute2 cannot: send raw marker frames that tell
//! tunic's recorder which case the following traffic belongs to, open many UDP
//! flows at once, hand the kernel TCP super-packets through a virtio-net
//! header (the differential TSO oracle's input), and predict from the guest's own RSS key and indirection table
//! (as `ethtool -x` prints them) which receive queue each flow must land on,
//! compute the RSS hash of a 4-tuple under any key from its definition, and
//! read per-queue receive counts where `ethtool -S` has none (netdev netlink).

mod gso_send;
mod qstats;
mod raw;
mod rss_predict;
mod toeplitz;
mod udp_gso;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  tunic-guest mark IFACE TEXT\n  tunic-guest udp-flows SRC_IP DST_IP COUNT PORT_BASE DST_PORT\n  \
         tunic-guest rss-predict ETHTOOL_X_FILE SRC_IP DST_IP COUNT PORT_BASE DST_PORT\n  \
         tunic-guest gso-send IFACE DST_MAC SRC DST SPORT DPORT PAYLOAD MSS ts|nots IP_ID COUNT\n  \
         tunic-guest rxq-packets IFACE\n  \
         tunic-guest toeplitz KEY_HEX SRC_IP DST_IP DST_PORT SRC_PORT...\n  \
         tunic-guest udp-gso SRC_IP DST_IP DST_PORT BYTES SEGMENT COUNT"
    );
    ExitCode::from(2)
}

/// The `tunic-guest` command line: `args` without the program name.
pub fn run(args: &[String]) -> ExitCode {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match a.as_slice() {
        ["mark", iface, text] => raw::send_marker(iface, text),
        ["udp-flows", src, dst, count, base, dport] => udp_flows(src, dst, count, base, dport),
        ["rss-predict", file, src, dst, count, base, dport] => {
            rss_predict::run(file, src, dst, count, base, dport)
        }
        ["rxq-packets", iface] => qstats::run(iface),
        ["toeplitz", key, src, dst, dport, sports @ ..] if !sports.is_empty() => {
            toeplitz::run(key, src, dst, dport, sports)
        }
        ["udp-gso", src, dst, dport, total, seg, count] => match (
            num(dport),
            total.parse::<usize>(),
            num(seg),
            count.parse::<u32>(),
        ) {
            (Ok(dport), Ok(total), Ok(seg), Ok(count)) if total <= 65000 && seg > 0 => {
                udp_gso::run(src, dst, dport, total, seg, count)
            }
            _ => Err("udp-gso: bad numbers (BYTES up to 65000, SEGMENT above 0)".into()),
        },
        ["gso-send", iface, rest @ ..] => {
            gso_send::parse(rest).and_then(|spec| gso_send::run(iface, &spec))
        }
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tunic-guest: {e}");
            ExitCode::FAILURE
        }
    }
}

fn num(s: &str) -> Result<u16, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not a number 0-65535"))
}

/// One datagram from each of COUNT source ports: COUNT distinct 4-tuples.
fn udp_flows(src: &str, dst: &str, count: &str, base: &str, dport: &str) -> Result<(), String> {
    let (count, base, dport) = (num(count)?, num(base)?, num(dport)?);
    let dst: std::net::IpAddr = dst.parse().map_err(|_| format!("bad address {dst}"))?;
    for i in 0..count {
        let port = base.checked_add(i).ok_or("port range overflows")?;
        let sock = std::net::UdpSocket::bind((src, port))
            .map_err(|e| format!("bind {src}:{port}: {e}"))?;
        sock.send_to(b"tunic rss flow", (dst, dport))
            .map_err(|e| format!("send: {e}"))?;
        // Stay under the peer's ICMP rate limit and the NIC's queues: a steady trickle.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(())
}
