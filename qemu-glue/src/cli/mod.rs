//! The `tunic` command line: the commands that serve (`serve`, `stats`), the
//! offline tools (`segment`, `csum`, `rss`), and the suites of `tunic-suites`.

pub mod offline;
pub mod serve;
pub mod stats;

use tunic_suites::{
    bench, conformance, demo, reliability, report, selftests, switch, timing_check,
};

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "tunic",
    version,
    about = "A cycle-approximate PCIe NIC emulator served over vfio-user"
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides. Warnings and info
    /// lines are held to one per cause per port a second, debug and trace lines to
    /// 1000.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve NICs on vfio-user sockets beside a QEMU you start yourself.
    Serve(serve::ServeArgs),
    /// Provision QEMU and a guest, boot it on two wired tunic NICs and show the driver working.
    Demo(demo::DemoArgs),
    /// Run the guest conformance suite on two wired tunic NICs (report.json, junit.xml).
    Conformance(conformance::ConformanceArgs),
    /// Guest iperf3 over tunic's igb (or virtio-net) against QEMU's own, as a ratio.
    Bench(bench::BenchArgs),
    /// Fault and soak tests: QEMU killed, driver unloaded, resets, a hostile ring, the wire cut.
    Reliability(reliability::ReliabilityArgs),
    /// Two guests, two NICs each, on one `tunic serve` with four ports on its built-in
    /// switch: ping and iperf3 across them, and the switch's learned unicast checked.
    Switch(switch::SwitchArgs),
    /// The kernel's own NIC selftests (drivers/net, drivers/net/hw) in a Debian guest on two
    /// tunic NICs, with QEMU's own NIC beside them (--baseline); KTAP, JUnit and report.json.
    Selftests(selftests::SelftestsArgs),
    /// Merge the report.json files of many shards or runs into one (report merge).
    Report(report::ReportArgs),
    /// Print the statistics `tunic serve --stats-file` writes (per queue timing, interrupts).
    Stats(stats::StatsArgs),
    /// Guest iperf3 over a paced 1 Gb/s and 10 Gb/s tunic link (timing model check).
    TimingCheck(timing_check::TimingCheckArgs),
    /// Segment the frames of a pcap as the NIC's large-send offloads would (no VM).
    Segment(offline::segment::SegmentArgs),
    /// Report the receive checksum verdicts for each frame of a pcap (no VM).
    Csum(offline::csum::CsumArgs),
    /// Report the RSS hash, hash type and queue for each frame of a pcap (no VM).
    Rss(offline::rss::RssArgs),
}

pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tunic_server::log_limit::LogLimit::default())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colour codes only for a person at a terminal, not in log files or CI logs.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init();
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Conformance(a) => conformance::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Reliability(a) => reliability::run(a),
        Command::Selftests(a) => selftests::run(a),
        Command::Switch(a) => switch::run(a),
        Command::Report(a) => report::run(a),
        Command::Stats(a) => stats::run(a),
        Command::TimingCheck(a) => timing_check::run(a),
        Command::Segment(a) => offline::segment::run(a),
        Command::Csum(a) => offline::csum::run(a),
        Command::Rss(a) => offline::rss::run(a),
    }
}

#[cfg(test)]
pub(crate) mod readme_tests {
    use clap::Parser;

    /// The `tunic` command lines of a Markdown text (`... --bin tunic -- ARGS`, and
    /// `tunic ARGS` at the start of a code line), with trailing comments cut.
    fn tunic_commands(md: &str) -> Vec<Vec<String>> {
        let mut in_code = false;
        let mut out = Vec::new();
        for line in md.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            let line = line.split(" #").next().unwrap_or("");
            let Some((_, args)) = line.split_once("--bin tunic --") else {
                continue;
            };
            // A pipe or a loop's tail is the shell's, not tunic's.
            let args = args.split(['|', ';']).next().unwrap_or("");
            out.push(tunic_argv(args));
        }
        out
    }

    /// `tunic` and the words of `args`: an argv for `Cli::try_parse_from`.
    pub(crate) fn tunic_argv(args: &str) -> Vec<String> {
        std::iter::once("tunic".to_string())
            .chain(args.split_whitespace().map(str::to_string))
            .collect()
    }

    #[test]
    fn every_tunic_command_the_readme_shows_is_one_tunic_accepts() {
        let cmds = tunic_commands(include_str!("../../../README.md"));
        assert!(cmds.len() >= 10, "found only {cmds:?}");
        assert!(cmds.iter().any(|c| c.get(1).is_some_and(|w| w == "switch")));
        for c in cmds {
            if let Err(e) = super::Cli::try_parse_from(&c) {
                panic!("README: tunic refuses {c:?}: {e}");
            }
        }
    }

    /// The tunic commands of a CI example: the rest of each line holding
    /// `--bin tunic --`, with a folded YAML block's continuation lines joined.
    fn ci_example_commands(yaml: &str) -> Vec<Vec<String>> {
        let lines: Vec<&str> = yaml.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Some((_, rest)) = line.split_once("--bin tunic --") else {
                continue;
            };
            let mut cmd = rest.to_string();
            if !line.trim_start().starts_with("- ") {
                for next in &lines[i + 1..] {
                    let t = next.trim_start();
                    if indent(next) != indent(line)
                        || t.starts_with("- ")
                        || t.starts_with("cargo ")
                    {
                        break;
                    }
                    cmd.push(' ');
                    cmd.push_str(t);
                }
            }
            let cmd = cmd
                .replace("${{ matrix.personality }}", "igb")
                .replace("${{ matrix.kernel }}", "linux-image-amd64/trixie-backports")
                .replace("${{ matrix.shard }}", "1")
                .replace("$PERSONALITY", "igb")
                .replace("$KERNEL", "linux-image-amd64/trixie-backports")
                .replace("$SHARD", "1")
                .replace('"', "");
            out.push(tunic_argv(&cmd));
        }
        out
    }

    #[test]
    fn the_ci_examples_run_commands_tunic_accepts() {
        use clap::Parser;
        for (name, yaml) in [
            (
                "github-actions.yml",
                include_str!("../../../docs/ci/github-actions.yml"),
            ),
            (
                "gitlab-ci.yml",
                include_str!("../../../docs/ci/gitlab-ci.yml"),
            ),
        ] {
            let cmds = ci_example_commands(yaml);
            assert!(cmds.len() >= 4, "{name}: found only {cmds:?}");
            assert!(
                cmds.iter().any(|c| c.iter().any(|w| w == "--shard")),
                "{name}"
            );
            for c in cmds {
                if let Err(e) = super::Cli::try_parse_from(&c) {
                    panic!("{name}: tunic refuses {c:?}: {e}");
                }
            }
        }
    }
}
