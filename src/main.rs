//! The `kaizen` binary.

fn main() -> std::process::ExitCode {
    kaizen::cli::main()
}
