#![forbid(unsafe_code)]
fn main() {
    std::process::exit(egress_audit::cli::main());
}
