//! `tunic stats FILE`: prints the statistics `tunic serve --stats-file FILE` writes.
//!
//! The file is JSON: `{"ports": [{"socket": PATH, "counters": {...}}]}`, where
//! `counters` is the port's counters and, on a timed port, a `timing` object
//! (`device_model::timing::TimingReport`): per queue frames, bytes, modelled busy
//! time, PCIe and wire utilisation and interrupt causes, per vector interrupts
//! raised and moderated.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tunic_server::port::Port;

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// A file written by `tunic serve --stats-file`.
    pub file: PathBuf,
    /// Print the raw JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Read the file twice, SECONDS apart (serve rewrites it every second), and print
    /// every counter that moved as a rate per second: vfio-user messages and region
    /// reads and writes, MMIO by register class, frames, interrupts.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600), conflicts_with = "json")]
    pub rate: Option<u64>,
}

/// The statistics of `ports` as one JSON document.
pub fn document(ports: &[Port]) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|p| json!({ "socket": p.socket(), "counters": p.counters().to_json() }))
        .collect();
    json!({ "ports": ports })
}

/// Replaces `path` with the statistics of `ports` (written aside, then renamed, so a
/// reader never sees half a file).
pub fn write(path: &Path, ports: &[Port]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&document(ports))?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Rewrites `path` every second for as long as the process runs.
pub fn write_every_second(path: PathBuf, ports: Arc<Vec<Port>>) -> anyhow::Result<()> {
    write(&path, &ports)?;
    std::thread::Builder::new()
        .name("tunic-stats".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            if let Err(e) = write(&path, &ports) {
                tracing::warn!(error = %e, path = %path.display(), "stats file not written");
            }
        })?;
    Ok(())
}

fn read_doc(file: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a tunic stats file: {e}", file.display()))
}

/// Per port, the counters that grew from `before` to `after`, as rates over `secs`.
fn rates(before: &Value, after: &Value, secs: f64) -> Vec<Vec<(String, f64)>> {
    let ports = |d: &Value| d["ports"].as_array().cloned().unwrap_or_default();
    let (b, a) = (ports(before), ports(after));
    a.iter()
        .enumerate()
        .map(|(i, port)| {
            let was = b.get(i).map(|p| &p["counters"]);
            port["counters"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(name, v)| {
                    let now = v.as_u64()?;
                    let then = was.and_then(|c| c[name].as_u64()).unwrap_or(0);
                    (now > then).then(|| (name.clone(), (now - then) as f64 / secs))
                })
                .collect()
        })
        .collect()
}

pub fn run(a: StatsArgs) -> anyhow::Result<()> {
    let doc = read_doc(&a.file)?;
    if let Some(secs) = a.rate {
        std::thread::sleep(Duration::from_secs(secs));
        let later = read_doc(&a.file)?;
        for (i, moved) in rates(&doc, &later, secs as f64).iter().enumerate() {
            println!("port {i}: per second over {secs} s");
            if moved.is_empty() {
                println!("  nothing moved");
            }
            for (name, r) in moved {
                println!("  {name:<40} {r:>14.1}");
            }
        }
        return Ok(());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let ports = doc["ports"].as_array().cloned().unwrap_or_default();
    for (i, port) in ports.iter().enumerate() {
        print_port(i, port);
    }
    Ok(())
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn pct(v: &Value) -> String {
    format!("{:.1}%", v.as_f64().unwrap_or(0.0) * 100.0)
}

fn ms(ps: &Value) -> String {
    format!("{:.3}", u(ps) as f64 / 1e9)
}

fn print_port(i: usize, port: &Value) {
    let c = &port["counters"];
    println!(
        "port {i} ({}): tx {} frames {} bytes, rx {} frames {} bytes",
        port["socket"].as_str().unwrap_or("?"),
        u(&c["tx_frames"]),
        u(&c["tx_bytes"]),
        u(&c["rx_frames"]),
        u(&c["rx_bytes"]),
    );
    let t = &c["timing"];
    if t.is_null() {
        println!("  timing off");
        return;
    }
    let ut = &t["utilisation"];
    println!(
        "  timing {}, {} Gb/s, PCIe {}, model time {:.6} s, Tx backlog {} B, Tx stalls {}",
        t["mode"].as_str().unwrap_or("?"),
        u(&t["link_speed_bps"]) / 1_000_000_000,
        t["pcie"].as_str().unwrap_or("?"),
        u(&t["model_time_ps"]) as f64 / 1e12,
        u(&t["tx_backlog_bytes"]),
        u(&t["tx_stalls"]),
    );
    println!(
        "  utilisation: PCIe up {} down {}, Tx wire {}, Rx wire {}, Tx engine {}, Rx engine {}",
        pct(&ut["pcie_up"]),
        pct(&ut["pcie_down"]),
        pct(&ut["tx_wire"]),
        pct(&ut["rx_wire"]),
        pct(&ut["tx_engine"]),
        pct(&ut["rx_engine"]),
    );
    println!(
        "  {:>5} {:>10} {:>12} {:>11} {:>10} {:>12} {:>11} {:>7} {:>7} {:>9}",
        "queue",
        "tx frames",
        "tx bytes",
        "tx busy ms",
        "rx frames",
        "rx bytes",
        "rx busy ms",
        "PCIe",
        "wire",
        "irq causes"
    );
    for q in t["queues"].as_array().into_iter().flatten() {
        println!(
            "  {:>5} {:>10} {:>12} {:>11} {:>10} {:>12} {:>11} {:>7} {:>7} {:>9}",
            u(&q["queue"]),
            u(&q["tx_frames"]),
            u(&q["tx_bytes"]),
            ms(&q["tx_busy_ps"]),
            u(&q["rx_frames"]),
            u(&q["rx_bytes"]),
            ms(&q["rx_busy_ps"]),
            pct(&q["pcie_utilisation"]),
            pct(&q["wire_utilisation"]),
            u(&q["interrupt_causes"]),
        );
    }
    println!(
        "  {:>6} {:>10} {:>10} {:>8}",
        "vector", "raised", "moderated", "EITR us"
    );
    for v in t["vectors"].as_array().into_iter().flatten() {
        println!(
            "  {:>6} {:>10} {:>10} {:>8}",
            u(&v["vector"]),
            u(&v["raised"]),
            u(&v["moderated"]),
            u(&v["eitr_interval_us"]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_counters_that_grew_per_second() {
        let before = json!({"ports": [{"counters": {"vfio_user_messages": 100, "tx_bytes": 5, "timing": {"x": 1}}}]});
        let after = json!({"ports": [
            {"counters": {"vfio_user_messages": 400, "tx_bytes": 5, "mmio_doorbell_writes": 30, "timing": {"x": 9}}},
            {"counters": {"rx_frames": 8}}
        ]});
        let r = rates(&before, &after, 2.0);
        assert_eq!(
            r[0],
            vec![
                ("mmio_doorbell_writes".to_string(), 15.0),
                ("vfio_user_messages".to_string(), 150.0)
            ]
        );
        assert_eq!(
            r[1],
            vec![("rx_frames".to_string(), 4.0)],
            "a port new since the first read"
        );
    }
}
