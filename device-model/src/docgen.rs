//! Sections of the docs generated from the code (register tables), and the
//! check that keeps them current.

/// Fails unless `docs/register-map.md` holds `want` between the markers
/// `<!-- NAME:begin -->` and `<!-- NAME:end -->`. With `TUNIC_UPDATE_DOCS` set
/// it rewrites that section (appending it, markers included, if missing).
pub fn check_generated_section(name: &str, want: &str, stale: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/register-map.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let (begin, end) = (
        format!("<!-- {name}:begin -->\n"),
        format!("<!-- {name}:end -->"),
    );
    let a = doc.find(&begin).map(|i| i + begin.len());
    let b = doc.find(&end);
    let current = match (a, b) {
        (Some(a), Some(b)) if a <= b => &doc[a..b],
        _ => "",
    };
    if current == want {
        return;
    }
    if std::env::var_os("TUNIC_UPDATE_DOCS").is_none() {
        panic!("{stale}");
    }
    let new = match (a, b) {
        (Some(a), Some(b)) if a <= b => format!("{}{want}{}", &doc[..a], &doc[b..]),
        _ => format!("{doc}\n{begin}{want}{end}\n"),
    };
    std::fs::write(path, new).unwrap();
}
