//! The `cargo-kinde` binary: parse, run, map the outcome to an exit code. Everything else lives in
//! the library so an xtask can call it without clap.

fn main() -> std::process::ExitCode {
    cargo_kinde::cli::main()
}
