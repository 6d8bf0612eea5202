//! The `ihf-webhooks` binary: everything is in the library; see `cli`.

fn main() -> std::process::ExitCode {
    ihf_webhooks::cli::main()
}
