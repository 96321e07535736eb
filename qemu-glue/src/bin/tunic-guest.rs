//! `tunic-guest`: the helper the suites copy into the guest (see `tunic-guest-tools`).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    tunic_guest_tools::run(&args)
}
