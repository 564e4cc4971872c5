fn main() {
    std::process::exit(egress_audit::cli::main());
}
