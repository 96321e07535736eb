//! Which Debian mirror to build the QEMU root from.
//!
//! `TUNIC_DEBIAN_MIRROR`, when set, wins. Otherwise the first Debian archive
//! URI (a URI whose path ends in `/debian`) in the host's apt sources is used:
//! deb822 `*.sources` files first, then one-line `sources.list` entries.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

const APT_DIR: &str = "/etc/apt";

/// The Debian mirror URI, e.g. `http://deb.debian.org/debian`.
pub fn debian_mirror() -> Result<String> {
    if let Ok(m) = std::env::var("TUNIC_DEBIAN_MIRROR") {
        let m = m.trim().trim_end_matches('/');
        if !m.is_empty() {
            return Ok(m.to_string());
        }
    }
    let apt = Path::new(APT_DIR);
    let mut uris = Vec::new();
    for file in sorted_files(&apt.join("sources.list.d"), ".sources") {
        if let Ok(text) = fs::read_to_string(&file) {
            uris.extend(deb822_uris(&text));
        }
    }
    let mut one_line = vec![apt.join("sources.list")];
    one_line.extend(sorted_files(&apt.join("sources.list.d"), ".list"));
    for file in one_line {
        if let Ok(text) = fs::read_to_string(&file) {
            uris.extend(one_line_uris(&text));
        }
    }
    match uris.into_iter().find(|u| is_debian_archive(u)) {
        Some(uri) => Ok(uri.trim_end_matches('/').to_string()),
        None => bail!(
            "no Debian mirror found in {APT_DIR}/sources.list(.d); \
             set TUNIC_DEBIAN_MIRROR (e.g. http://deb.debian.org/debian)"
        ),
    }
}

fn sorted_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// URIs of enabled `Types: deb` stanzas of a deb822 sources file.
fn deb822_uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stanzas: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            if !stanzas.last().is_some_and(|s| s.is_empty()) {
                stanzas.push(Vec::new());
            }
            continue;
        }
        if line.starts_with('#') || line.starts_with(char::is_whitespace) {
            continue; // comments and continuation lines (not used by the fields we read)
        }
        if let Some((key, value)) = line.split_once(':') {
            if let Some(stanza) = stanzas.last_mut() {
                stanza.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
    }
    for stanza in stanzas {
        let get = |k: &str| {
            stanza
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let is_deb = get("types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let enabled = get("enabled").is_none_or(|e| !e.eq_ignore_ascii_case("no"));
        if is_deb && enabled {
            if let Some(uris) = get("uris") {
                out.extend(uris.split_whitespace().map(str::to_string));
            }
        }
    }
    out
}

/// URIs of `deb` lines of a one-line-style sources.list.
fn one_line_uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(opts) => opts.split_once(']').map(|(_, r)| r).unwrap_or(""),
            None => rest,
        };
        if let Some(uri) = rest.split_whitespace().next() {
            out.push(uri.to_string());
        }
    }
    out
}

fn is_debian_archive(uri: &str) -> bool {
    let scheme_ok = uri.starts_with("http://") || uri.starts_with("https://");
    scheme_ok && uri.trim_end_matches('/').ends_with("/debian")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_picks_main_archive() {
        let text = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\n\
            URIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n\
            Components: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n\
            Suites: bookworm-security\n\nTypes: deb\nEnabled: no\nURIs: http://x/debian\n";
        let uris = deb822_uris(text);
        assert_eq!(
            uris,
            [
                "http://deb.debian.org/debian",
                "http://deb.debian.org/debian-security"
            ]
        );
        let pick = uris.into_iter().find(|u| is_debian_archive(u));
        assert_eq!(pick.as_deref(), Some("http://deb.debian.org/debian"));
    }

    #[test]
    fn one_line_with_options() {
        let text = "# comment\ndeb-src http://a/debian bookworm main\n\
            deb [arch=amd64 signed-by=/k.gpg] https://mirror.example/debian/ bookworm main\n\
            deb http://security.debian.org/debian-security bookworm-security main\n";
        let uris = one_line_uris(text);
        assert_eq!(
            uris,
            [
                "https://mirror.example/debian/",
                "http://security.debian.org/debian-security"
            ]
        );
        assert!(is_debian_archive(&uris[0]));
        assert!(!is_debian_archive(&uris[1]));
    }
}
