//! `tunic`: a cycle-approximate PCIe NIC emulator served over vfio-user.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    cli::init_tracing(args.verbose);
    if let Err(e) = cli::run(args) {
        eprintln!("tunic: error: {e:#}");
        std::process::exit(1);
    }
}
