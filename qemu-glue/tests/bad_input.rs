//! Bad input at tunic's edges: malformed command lines, unusable paths and
//! addresses, unreadable captures, and vfio-user clients that speak garbage.
//! Each gets a clear error and a non-zero exit, or a closed connection after
//! which the server still serves; never a panic.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{path_str, scratch_dir, stderr, tunic};

/// Runs tunic and requires a failure whose message contains `expect`.
fn refused(args: &[&str], expect: &str) {
    let o = tunic(args);
    let err = stderr(&o);
    assert!(!o.status.success(), "tunic {args:?} succeeded:\n{err}");
    assert!(
        err.to_lowercase().contains(&expect.to_lowercase()),
        "tunic {args:?}: expected '{expect}' in:\n{err}"
    );
}

#[test]
fn malformed_command_lines_are_refused() {
    refused(&[], "usage");
    refused(&["frobnicate"], "unrecognized subcommand");
    refused(&["serve"], "--socket");
    refused(&["serve", "--socket"], "--socket");
    refused(&["serve", "--socket", "/tmp/x.sock", "--bogus"], "--bogus");
    refused(
        &["serve", "--socket", "/tmp/x.sock", "--personality", "e1000"],
        "e1000",
    );
    refused(
        &[
            "serve",
            "--socket",
            "/tmp/x.sock",
            "--inject",
            "corrupt-l4=zero",
        ],
        "inject",
    );
    refused(
        &[
            "serve", "--socket", "/a", "--socket", "/b", "--socket", "/c",
        ],
        "at most two",
    );
    refused(
        &[
            "serve",
            "--socket",
            "/tmp/x.sock",
            "--mac",
            "52:54:00:00:00:01",
            "--mac",
            "52:54:00:00:00:02",
        ],
        "more --mac",
    );
}

#[test]
fn selftests_and_report_arguments_are_checked_before_any_guest() {
    refused(&["selftests", "--shard", "0/3"], "between 1 and N");
    refused(&["selftests", "--shard", "4/3"], "between 1 and N");
    refused(&["selftests", "--shard", "x"], "K/N");
    refused(&["selftests", "--subset", "everything"], "everything");
    refused(&["selftests", "--personality", "e1000"], "e1000");
    refused(&["report", "merge"], "required");
    let dir = scratch_dir("report-merge");
    refused(
        &[
            "report",
            "merge",
            "--out",
            path_str(&dir),
            "/nonexistent/report.json",
        ],
        "/nonexistent/report.json",
    );
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{not json").unwrap();
    refused(&["report", "merge", path_str(&junk)], "not JSON");
    let other = dir.join("other.json");
    std::fs::write(&other, r#"{"passed": true}"#).unwrap();
    refused(&["report", "merge", path_str(&other)], "neither");
}

#[test]
fn unusable_mac_addresses_are_refused() {
    for (mac, why) in [
        ("01:00:5e:00:00:01", "multicast"),
        ("ff:ff:ff:ff:ff:ff", "multicast"),
        ("00:00:00:00:00:00", "zero"),
        ("52:54:00:12:34", "six hex bytes"),
        ("52:54:00:12:34:zz", "not a hex byte"),
        ("", "six hex bytes"),
    ] {
        refused(
            &["serve", "--socket", "/tmp/tunic-never.sock", "--mac", mac],
            why,
        );
    }
}

#[test]
fn backend_garbage_is_refused() {
    for (backend, why) in [
        ("garbage", "unknown backend"),
        ("stream:", "stream:connect=PATH"),
        ("stream:connect=", "stream:connect=PATH"),
        ("tap:", "tap:NAME"),
        ("tap:a-name-longer-than-fifteen", "tap:NAME"),
        ("wire:x", "unknown backend"),
    ] {
        refused(
            &[
                "serve",
                "--socket",
                "/tmp/tunic-never.sock",
                "--backend",
                backend,
            ],
            why,
        );
    }
    let dir = scratch_dir("bad-backend");
    let sock = dir.join("s.sock");
    refused(
        &[
            "serve",
            "--socket",
            path_str(&sock),
            "--backend",
            "stream:connect=/nonexistent/peer.sock",
        ],
        "cannot connect",
    );
    assert!(!sock.exists(), "a refused start leaves no socket behind");
    refused(
        &["serve", "--socket", path_str(&sock), "--backend", "wire"],
        "exactly two ports",
    );
}

#[test]
fn port_specs_that_cannot_be_served_are_refused() {
    let dir = scratch_dir("bad-port");
    let s = |n: &str| format!("socket={}", path_str(&dir.join(n)));
    let a = s("a.sock");
    for (args, why) in [
        (
            vec!["--port", "mac=52:54:00:00:00:01"],
            "socket=PATH is required",
        ),
        (vec!["--port", "socket"], "expected KEY=VALUE"),
        (vec!["--port", "socket="], "needs a path"),
        (
            vec!["--port", &format!("{a},colour=red")],
            "unknown key 'colour'",
        ),
        (
            vec!["--port", &format!("{a},mac=01:00:00:00:00:01")],
            "multicast",
        ),
        (
            vec!["--port", &format!("{a},backend=garbage")],
            "unknown backend",
        ),
        (vec!["--port", &format!("{a},personality=e1000")], "e1000"),
        (vec!["--port", &format!("{a},{a}")], "given twice"),
        (
            vec!["--port", &format!("{a},link-speed=10g")],
            "timing=paced or virtual",
        ),
        (
            vec!["--port", &format!("{a},timing=fast")],
            "expected off, paced or virtual",
        ),
        (vec!["--port", &format!("{a},pcie=gen9x4")], "expected genG"),
        (
            vec!["--port", &format!("{a},timing=paced,personality=i40e")],
            "timing",
        ),
        (vec!["--port", &a, "--port", &a], "given to two ports"),
        (
            vec!["--port", &format!("{a},backend=switch")],
            "two ports or more",
        ),
        (
            vec![
                "--port",
                &a,
                "--port",
                &s("b.sock"),
                "--port",
                &format!("{},backend=wire", s("c.sock")),
            ],
            "exactly two",
        ),
        (
            vec!["--port", &a, "--socket", "/tmp/x.sock"],
            "cannot be used with",
        ),
        (
            vec![
                "--socket",
                "/tmp/x1.sock",
                "--socket",
                "/tmp/x2.sock",
                "--socket",
                "/tmp/x3.sock",
            ],
            "--port socket=PATH",
        ),
    ] {
        let mut full = vec!["serve"];
        full.extend(args.iter().copied());
        refused(&full, why);
    }
    assert!(
        !dir.join("a.sock").exists(),
        "a refused start leaves no socket behind"
    );
}

#[test]
fn any_number_of_ports_are_served_on_the_built_in_switch() {
    let dir = scratch_dir("switch-ports");
    let sockets: Vec<PathBuf> = (0..4).map(|i| dir.join(&format!("p{i}.sock"))).collect();
    let mut args = vec!["serve".to_string()];
    for (i, s) in sockets.iter().enumerate() {
        args.push("--port".into());
        // Three on the switch (the default with more than two ports), one alone; each
        // with its own personality and timing (an X710 untimed beside a paced igb).
        let backend = if i == 3 { ",backend=none" } else { "" };
        let own = match i {
            0 => ",timing=paced,link-speed=100m",
            1 => ",personality=virtio-net",
            3 => ",personality=i40e",
            _ => "",
        };
        args.push(format!("socket={}{backend}{own}", path_str(s)));
    }
    let stats = dir.join("stats.json");
    args.extend(["--stats-file".to_string(), path_str(&stats).to_string()]);
    let mut served = Served::spawn(&args, sockets.clone());
    for s in &sockets {
        assert!(
            handshake_works(&served.on(s)),
            "{} does not answer",
            s.display()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let doc = loop {
        let text = std::fs::read_to_string(&stats).unwrap_or_default();
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) {
            break doc;
        }
        assert!(Instant::now() < deadline, "no stats file");
        std::thread::sleep(Duration::from_millis(100));
    };
    let timing = |i: usize| doc["ports"][i]["counters"]["timing"].clone();
    assert_eq!(timing(0)["link_speed_bps"], 100_000_000u64, "{doc}");
    assert_eq!(timing(0)["mode"], "paced", "{doc}");
    for i in 1..4 {
        assert!(timing(i).is_null(), "port {i} is untimed: {doc}");
    }
    assert!(served.alive());
    let log = served.stop();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_existing_socket_path_is_refused() {
    let dir = scratch_dir("socket-exists");
    let path = dir.join("taken.sock");
    std::fs::write(&path, b"not a socket").unwrap();
    refused(&["serve", "--socket", path_str(&path)], "already exists");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"not a socket",
        "left untouched"
    );
    refused(
        &["serve", "--socket", "/nonexistent-dir/x.sock"],
        "cannot listen",
    );
}

#[test]
fn unreadable_and_truncated_captures_are_refused() {
    let dir = scratch_dir("bad-pcap");
    refused(
        &["csum", "--verify", "/nonexistent.pcap"],
        "nonexistent.pcap",
    );
    let truncated = dir.join("truncated.pcap");
    std::fs::write(&truncated, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).unwrap();
    refused(
        &["csum", "--verify", path_str(&truncated)],
        "truncated.pcap",
    );
    let garbage = dir.join("garbage.pcap");
    std::fs::write(&garbage, vec![0x5a; 4096]).unwrap();
    refused(&["csum", "--verify", path_str(&garbage)], "garbage.pcap");
    refused(&["rss", path_str(&garbage)], "garbage.pcap");
}

/// `tunic serve` on one socket, killed (SIGTERM) when dropped.
struct Served {
    child: Option<Child>,
    socket: PathBuf,
}

impl Served {
    fn start(dir: &Path) -> Self {
        let socket = dir.join("tunic.sock");
        Self::spawn(
            &["serve".into(), "--socket".into(), path_str(&socket).into()],
            vec![socket],
        )
    }

    /// `tunic args`, once every socket of `sockets` exists; `socket` is the first.
    fn spawn(args: &[String], sockets: Vec<PathBuf>) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_tunic"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tunic serve");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sockets.iter().all(|s| s.exists()) {
            assert!(
                Instant::now() < deadline,
                "tunic serve did not create its sockets"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child: Some(child),
            socket: sockets[0].clone(),
        }
    }

    /// The same server, seen through another of its sockets.
    fn on(&self, socket: &Path) -> Served {
        Served {
            child: None,
            socket: socket.to_path_buf(),
        }
    }

    /// The socket file appears at bind(), a moment before listen(): a connection in
    /// between is refused, so a refusal is retried for a while.
    fn connect(&self) -> UnixStream {
        let deadline = Instant::now() + Duration::from_secs(5);
        let s = loop {
            match UnixStream::connect(&self.socket) {
                Err(e)
                    if e.kind() == std::io::ErrorKind::ConnectionRefused
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20))
                }
                other => break other.expect("the socket accepts"),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Stops the server; returns what it logged.
    fn stop(mut self) -> String {
        let child = self.child.take().expect("running");
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let out = child.wait_with_output().expect("tunic exits");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A vfio-user message: 16-byte header (id, command, size, flags, error), then payload.
fn message(id: u16, command: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend(id.to_le_bytes());
    m.extend(command.to_le_bytes());
    m.extend(((16 + payload.len()) as u32).to_le_bytes());
    m.extend(0u32.to_le_bytes());
    m.extend(0u32.to_le_bytes());
    m.extend(payload);
    m
}

/// VERSION (command 1): major, minor, NUL-terminated JSON capabilities.
fn version(json: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 0, 1, 0];
    p.extend(json);
    message(7, 1, &p)
}

/// Whether the server answered with an error reply (flag 0x20) or closed the
/// connection, within the read timeout.
fn refused_by_server(mut s: UnixStream) -> bool {
    let mut header = [0u8; 16];
    match s.read_exact(&mut header) {
        Ok(()) => u32::from_le_bytes(header[8..12].try_into().unwrap()) & 0x20 != 0,
        // Closed with the client's bytes unread, the socket resets instead of ending.
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ),
    }
}

/// A well-formed VERSION exchange: the server answers with a VERSION reply.
fn handshake_works(served: &Served) -> bool {
    let mut s = served.connect();
    if s.write_all(&version(b"{\"capabilities\":{}}\0")).is_err() {
        return false;
    }
    let mut header = [0u8; 16];
    if s.read_exact(&mut header).is_err() {
        return false;
    }
    let command = u16::from_le_bytes([header[2], header[3]]);
    let flags = u32::from_le_bytes(header[8..12].try_into().unwrap());
    command == 1 && flags & 0xf == 1
}

#[test]
fn garbage_speaking_clients_are_disconnected_and_serving_continues() {
    let dir = scratch_dir("garbage-client");
    let mut served = Served::start(&dir);
    assert!(handshake_works(&served), "a proper client is served");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize| {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect::<Vec<u8>>()
    };
    let mut unknown_command = message(1, 0x7777, &[]);
    unknown_command.extend(random(64));
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        // (what, bytes, the server must answer with an error or close at once)
        ("random bytes", random(4096), true),
        ("unknown command", unknown_command, true),
        ("VERSION with bad JSON", version(b"{not json\0"), true),
        (
            "VERSION without the NUL",
            version(b"{\"capabilities\":{}}"),
            true,
        ),
        (
            "VERSION shorter than its header says",
            version(b"")[..14].to_vec(),
            false,
        ),
        ("truncated header", vec![1, 0, 1], false),
        (
            "size smaller than a header",
            {
                let mut m = version(b"{}\0");
                m[4..8].copy_from_slice(&3u32.to_le_bytes());
                m
            },
            true,
        ),
        (
            "size of 4 GiB",
            {
                let mut m = version(b"{}\0");
                m[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
                m
            },
            true,
        ),
        ("REGION_READ before VERSION", message(2, 9, &[0; 16]), true),
    ];
    for (what, bytes, must_answer) in cases {
        let mut s = served.connect();
        let _ = s.write_all(&bytes);
        if must_answer {
            assert!(refused_by_server(s), "{what}: no error reply and no close");
        } else {
            // The client gives up (closes); the server must notice and move on.
            drop(s);
        }
        assert!(served.alive(), "{what}: tunic exited");
        assert!(
            handshake_works(&served),
            "{what}: the next client is not served"
        );
    }
    let log = served.stop();
    assert!(!log.contains("panicked"), "tunic logged a panic:\n{log}");
    assert!(
        log.contains("connection ended with an error"),
        "the log says what happened:\n{log}"
    );
}

/// A client past the VERSION exchange.
fn after_version(served: &Served) -> UnixStream {
    let mut s = served.connect();
    s.write_all(&version(b"{\"capabilities\":{}}\0")).unwrap();
    assert_eq!(
        reply_flags(&mut s).map(|f| f & 0xf),
        Some(1),
        "VERSION reply"
    );
    s
}

/// Reads one reply (header and payload); its flags.
fn reply_flags(s: &mut UnixStream) -> Option<u32> {
    let mut header = [0u8; 16];
    s.read_exact(&mut header).ok()?;
    let size = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
    let mut payload = vec![0u8; size.saturating_sub(16).min(1 << 20)];
    s.read_exact(&mut payload).ok()?;
    Some(u32::from_le_bytes(header[8..12].try_into().unwrap()))
}

#[test]
fn a_client_repeating_a_bad_access_does_not_flood_the_log() {
    let dir = scratch_dir("log-flood");
    let served = Served::start(&dir);
    let mut s = after_version(&served);
    // REGION_READ (9) of 4 bytes far past the end of BAR0, refused each time.
    let mut read = Vec::new();
    read.extend(0xffff_0000u64.to_le_bytes());
    read.extend(0u32.to_le_bytes());
    read.extend(4u32.to_le_bytes());
    let started = Instant::now();
    const TRIES: u16 = 3000;
    for id in 0..TRIES {
        s.write_all(&message(id, 9, &read)).unwrap();
        let flags = reply_flags(&mut s).expect("a reply to each read");
        assert_ne!(flags & 0x20, 0, "an access outside BAR0 is refused");
    }
    let seconds = started.elapsed().as_secs();
    drop(s);
    let log = served.stop();
    let lines = log
        .lines()
        .filter(|l| l.contains("request refused"))
        .count();
    assert!(lines >= 1, "the refusal is logged:\n{log}");
    // One line a second, and the line saying how many were held back.
    assert!(
        lines as u64 <= seconds + 1,
        "{TRIES} refusals in {seconds} s logged {lines} lines"
    );
    if seconds >= 1 {
        assert!(
            log.contains("suppressed"),
            "the held-back lines are counted:\n{log}"
        );
    }
}

/// Sends `bytes` with one fd attached (SCM_RIGHTS), as QEMU sends DMA_MAP's memfd.
fn send_with_fd(s: &UnixStream, bytes: &[u8], fd: std::os::fd::RawFd) {
    use std::os::fd::AsRawFd;
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: msghdr is plain data; every pointer in it outlives the sendmsg call.
    let sent = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut libc::c_int, fd);
        libc::sendmsg(s.as_raw_fd(), &msg, 0)
    };
    assert_eq!(sent, bytes.len() as isize, "sendmsg");
}

/// A memfd of `len` bytes, sealed against shrinking and growing when `sealed`.
fn memfd(len: u64, sealed: bool) -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: a new memfd, owned by the File.
    let f = unsafe {
        std::fs::File::from_raw_fd(libc::memfd_create(
            c"tunic-bad-client".as_ptr(),
            libc::MFD_ALLOW_SEALING,
        ))
    };
    f.set_len(len).unwrap();
    if sealed {
        use std::os::fd::AsRawFd;
        // SAFETY: sealing our own memfd.
        let r = unsafe {
            libc::fcntl(
                f.as_raw_fd(),
                libc::F_ADD_SEALS,
                libc::F_SEAL_SHRINK | libc::F_SEAL_GROW,
            )
        };
        assert_eq!(r, 0);
    }
    f
}

/// DMA_MAP (2): argsz, flags (read | write), offset into the fd, guest address, size.
fn dma_map(id: u16, address: u64, size: u64) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend(32u32.to_le_bytes());
    p.extend(3u32.to_le_bytes());
    p.extend(0u64.to_le_bytes());
    p.extend(address.to_le_bytes());
    p.extend(size.to_le_bytes());
    message(id, 2, &p)
}

#[test]
fn guest_memory_the_fd_cannot_back_is_refused_not_a_sigbus() {
    use std::os::fd::AsRawFd;
    let dir = scratch_dir("short-memfd");
    let mut served = Served::start(&dir);
    let mut s = after_version(&served);
    // 4 KiB of memfd offered as 64 MiB of guest memory: refused.
    let short = memfd(0x1000, true);
    send_with_fd(&s, &dma_map(1, 0, 64 << 20), short.as_raw_fd());
    let flags = reply_flags(&mut s).expect("a reply to DMA_MAP");
    assert_ne!(flags & 0x20, 0, "a map past the memfd's end is refused");
    // A memfd the client could shrink later: refused.
    let unsealed = memfd(0x10000, false);
    send_with_fd(&s, &dma_map(2, 0, 0x10000), unsealed.as_raw_fd());
    let flags = reply_flags(&mut s).expect("a reply to DMA_MAP");
    assert_ne!(flags & 0x20, 0, "an unsealed memfd is refused");
    // The same request with a memfd that holds it and cannot shrink: accepted.
    let good = memfd(0x10000, true);
    send_with_fd(&s, &dma_map(3, 0, 0x10000), good.as_raw_fd());
    let flags = reply_flags(&mut s).expect("a reply to DMA_MAP");
    assert_eq!(flags & 0x20, 0, "a proper map is accepted");
    drop(s);
    assert!(served.alive(), "tunic exited");
    assert!(handshake_works(&served), "the next client is not served");
    let log = served.stop();
    assert!(
        log.contains("DMA_MAP refused"),
        "the refusals are logged:\n{log}"
    );
}

/// Reads one reply: (flags, errno, body).
fn reply(s: &mut UnixStream) -> Option<(u32, u32, Vec<u8>)> {
    let mut header = [0u8; 16];
    s.read_exact(&mut header).ok()?;
    let size = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
    let mut body = vec![0u8; size.saturating_sub(16).min(1 << 20)];
    s.read_exact(&mut body).ok()?;
    let flags = u32::from_le_bytes(header[8..12].try_into().unwrap());
    let errno = u32::from_le_bytes(header[12..16].try_into().unwrap());
    Some((flags, errno, body))
}

/// REGION_READ (9) of `count` bytes at `offset` of config space (region 7).
fn config_read(id: u16, offset: u64, count: u32) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend(offset.to_le_bytes());
    p.extend(7u32.to_le_bytes());
    p.extend(count.to_le_bytes());
    message(id, 9, &p)
}

#[test]
fn refused_commands_get_a_real_errno_and_the_stream_stays_in_step() {
    let dir = scratch_dir("in-step");
    let served = Served::start(&dir);
    let mut s = after_version(&served);
    // DMA_READ (11) with a body, an unknown command with a body, then a read.
    s.write_all(&message(2, 11, &[0xaa; 24])).unwrap();
    s.write_all(&message(3, 0x4242, &[0x55; 100])).unwrap();
    s.write_all(&config_read(4, 0, 4)).unwrap();
    for what in ["DMA_READ", "an unknown command"] {
        let (flags, errno, _) = reply(&mut s).expect("a reply");
        assert_ne!(flags & 0x20, 0, "{what} is refused");
        assert_eq!(errno, libc::ENOTSUP as u32, "{what}: ENOTSUP, not errno 0");
    }
    let (flags, _, body) = reply(&mut s).expect("the read after them is answered");
    assert_eq!(flags & 0x20, 0);
    // The 16-byte access echoed, then the vendor and device IDs of config space.
    assert_eq!(body.len(), 20);
    assert_ne!(&body[16..20], &[0xff; 4]);
    // A read larger than the transfer limit: refused before anything is allocated.
    s.write_all(&config_read(5, 0, u32::MAX)).unwrap();
    let (flags, errno, _) = reply(&mut s).expect("a reply");
    assert_ne!(flags & 0x20, 0);
    assert_eq!(errno, libc::EINVAL as u32);
    drop(s);
    let _ = served.stop();
}

#[test]
fn a_stalled_client_is_dropped_and_the_next_one_served() {
    let dir = scratch_dir("stalled");
    let served = Served::start(&dir);
    // Three bytes of a header, then nothing, the connection held open.
    let mut stalled = served.connect();
    stalled.write_all(&[1, 0, 1]).unwrap();
    // One that connects and never speaks.
    let silent = served.connect();
    let started = Instant::now();
    let mut next = served.connect();
    next.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    next.write_all(&version(b"{\"capabilities\":{}}\0"))
        .unwrap();
    let (flags, _, _) = reply(&mut next).expect("the next client is served");
    assert_eq!(flags & 0xf, 1);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "the stalled and silent clients held the socket for {waited:?}"
    );
    let mut byte = [0u8; 1];
    stalled
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    assert!(
        !matches!(stalled.read(&mut byte), Ok(n) if n > 0),
        "the stalled client was closed"
    );
    drop((stalled, silent, next));
    let log = served.stop();
    assert!(log.contains("stalled"), "the log says why:\n{log}");
}
