//! Boots one guest with two of QEMU's own igb NICs on one hub and checks the
//! guest side end to end: driver, link, ping both ways, iperf3 throughput.
//!
//! `cargo run -p qemu-glue --example qemu_igb_pair [-- --console]`

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use qemu_glue::harness::{boot, provision, GuestSpec, Nic, ProvisionOptions};

const SCRIPT: &str = r#"
set -- $(nics_by_driver igb)
if [ $# -ne 2 ]; then
    result igb-nics fail "expected 2 igb NICs, found: $*"
    exit 1
fi
result igb-nics pass "$1 $2"
A=$1
B=$2
for nic in $A $B; do
    drv=$(ethtool -i $nic | grep '^driver:')
    case "$drv" in
        "driver: igb") result ethtool-driver-$nic pass "$drv ($(ethtool -i $nic | grep bus-info))" ;;
        *) result ethtool-driver-$nic fail "$drv" ;;
    esac
done

if setup_pair $A $B; then
    result link-up pass "$A: $(ethtool $A | grep -E 'Speed|Link detected' | tr -s '\t ' ' ')"
else
    result link-up fail "$(ip -o link show dev $A) / $(in_peer ip -o link show dev $B)"
fi

check ping4-root-to-peer ping -c 3 -W 2 $TUNIC_IP4_B
check ping4-peer-to-root in_peer ping -c 3 -W 2 $TUNIC_IP4_A
check ping6-root-to-peer ping6 -c 3 -W 2 $TUNIC_IP6_B
check ping6-peer-to-root in_peer ping6 -c 3 -W 2 $TUNIC_IP6_A

mbps=$(iperf3_mbps 10)
if [ -n "$mbps" ]; then
    result iperf3-tcp pass "$mbps Mbit/s ($(grep receiver /tmp/iperf3.out | tr -s ' '))"
else
    result iperf3-tcp fail "$(tail -n 5 /tmp/iperf3.out) $(cat /tmp/iperf3-server.out)"
fi
"#;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool> {
    let echo_console = std::env::args().any(|a| a == "--console");
    let assets = provision(&ProvisionOptions {
        progress: true,
        ..Default::default()
    })?;
    eprintln!(
        "[tunic] guest kernel {} ({})",
        assets.kernel_release, assets.kernel_package
    );
    let spec = GuestSpec {
        nics: vec![
            Nic::QemuIgb {
                hub: 0,
                mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x01],
            },
            Nic::QemuIgb {
                hub: 0,
                mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x02],
            },
        ],
        script: SCRIPT.to_string(),
        timeout: Duration::from_secs(240),
        echo_console,
        ..Default::default()
    };
    let run = boot(&assets, &spec)?;
    for r in &run.results {
        println!(
            "{:<26} {}  {}",
            r.name,
            if r.passed { "PASS" } else { "FAIL" },
            r.evidence
        );
    }
    println!(
        "exit: {:?}, script exit: {:?}, accelerator: {:?} ({}), boot {:.1} s, total {:.1} s",
        run.exit,
        run.script_exit,
        run.accel_used.kind,
        run.accel_used.reason,
        run.boot_seconds,
        run.total_seconds
    );
    if !run.passed() {
        eprintln!("guest run failed; console tail:\n{}", run.console_tail(40));
    }
    Ok(run.passed())
}
